// Fuzzes ResponseParser (+ BodyReader), with the request method picked from the input.
#include <string>

#include "fuzz_common.h"
#include "http/parser.h"

using namespace slipway::http;
using slipway::http::fuzz::Inside;
using slipway::http::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  static const char* kMethods[] = {"GET", "HEAD", "POST", "CONNECT"};
  const char* method = kMethods[bytes[0] % 4];
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  ParserLimits lim;
  lim.max_head_bytes = 4096;
  lim.max_headers = 32;
  lim.max_body_bytes = 1 << 16;

  ResponseParser whole(lim);
  whole.SetRequestMethod(method);
  ParseStatus a = whole.Parse(data);
  ResponseParser split(lim);
  split.SetRequestMethod(method);
  size_t cut = slipway::http::fuzz::SplitPoint(data);
  ParseStatus b = split.Parse(data.substr(0, cut));
  if (b == ParseStatus::kNeedMore) b = split.Parse(data);
  Require(a == b);
  if (a != ParseStatus::kHeadComplete) return 0;
  Require(whole.status_code() >= 100 && whole.status_code() <= 999);
  Require(Inside(whole.reason(), data));
  for (const HeaderView& h : whole.headers())
    Require(Inside(h.name, data) && Inside(h.value, data));
  (void)whole.KeepAlive();

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
  if (!body.done()) (void)body.Finish();
  return 0;
}
