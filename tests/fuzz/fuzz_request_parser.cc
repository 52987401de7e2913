// Fuzzes RequestParser (+ BodyReader): no crash, views inside the buffer, and the same verdict
// whether the bytes arrive at once or in two pieces.
#include <string>

#include "fuzz_common.h"
#include "http/parser.h"

using namespace slipway::http;
using slipway::http::fuzz::Inside;
using slipway::http::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  ParserLimits lim;
  lim.max_head_bytes = 4096;
  lim.max_headers = 32;
  lim.max_body_bytes = 1 << 16;

  RequestParser whole(lim);
  ParseStatus a = whole.Parse(data);
  RequestParser split(lim);
  size_t cut = slipway::http::fuzz::SplitPoint(data);
  ParseStatus b = split.Parse(data.substr(0, cut));
  if (b == ParseStatus::kNeedMore) b = split.Parse(data);
  Require(a == b);
  if (a == ParseStatus::kError) {
    Require(whole.error_status() == split.error_status());
    int s = whole.error_status();
    Require(s == 400 || s == 413 || s == 431 || s == 501 || s == 505);
    return 0;
  }
  if (a != ParseStatus::kHeadComplete) return 0;
  Require(whole.head_size() == split.head_size() && whole.head_size() <= data.size());
  Require(Inside(whole.method(), data) && Inside(whole.target(), data));
  for (const HeaderView& h : whole.headers())
    Require(Inside(h.name, data) && Inside(h.value, data));
  (void)whole.KeepAlive();
  (void)whole.Upgrade();
  (void)whole.ExpectsContinue();
  Require(whole.body_kind() != BodyKind::kUntilClose);

  // The body: consumed counts stay within the input and the reader ends or asks for more.
  BodyReader body(lim);
  body.Start(whole.body_kind(), whole.content_length());
  std::string_view rest = data.substr(whole.head_size());
  for (int guard = 0; guard < 100000 && !body.done(); ++guard) {
    BodyReader::Step s = body.Decode(rest);
    Require(s.consumed <= rest.size());
    Require(Inside(s.data, rest));
    rest.remove_prefix(s.consumed);
    if (s.state == BodyReader::State::kError || s.consumed == 0) break;
  }
  return 0;
}
