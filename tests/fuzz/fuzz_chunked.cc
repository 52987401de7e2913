// Fuzzes ChunkedDecoder: decoding the input whole and byte by byte must give the same body,
// the same end and the same error.
#include <string>

#include "fuzz_common.h"
#include "http/parser.h"

using namespace slipway::http;
using slipway::http::fuzz::Inside;
using slipway::http::fuzz::Require;

namespace {

struct Outcome {
  ChunkedDecoder::State state = ChunkedDecoder::State::kNeedMore;
  std::string body;
  size_t used = 0;
  int error = 0;
  size_t trailers = 0;
};

// Feeds `data` in pieces of `step` bytes, keeping unconsumed bytes like a connection would.
Outcome Run(std::string_view data, size_t step, ParserLimits lim) {
  ChunkedDecoder dec(lim);
  Outcome out;
  std::string pending;
  size_t fed = 0;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    ChunkedDecoder::Step s = dec.Decode(pending);
    Require(s.consumed <= pending.size());
    Require(Inside(s.data, pending));
    out.body.append(s.data);
    out.used += s.consumed;
    pending.erase(0, s.consumed);
    out.state = s.state;
    if (s.state != ChunkedDecoder::State::kNeedMore) break;
    if (s.consumed == 0) {
      if (fed == data.size()) break;
      size_t n = std::min(step, data.size() - fed);
      pending.append(data.substr(fed, n));
      fed += n;
    }
  }
  out.error = dec.error_status();
  out.trailers = dec.trailers().size();
  Require(dec.body_bytes() >= out.body.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  ParserLimits lim;
  lim.max_head_bytes = 1024;
  lim.max_headers = 16;
  lim.max_body_bytes = 1 << 16;
  Outcome whole = Run(data, data.size() + 1, lim);
  Outcome bytewise = Run(data, 1, lim);
  Require(whole.state == bytewise.state);
  Require(whole.body == bytewise.body);
  Require(whole.error == bytewise.error);
  if (whole.state == ChunkedDecoder::State::kDone) {
    Require(whole.used == bytewise.used && whole.used <= data.size());
    Require(whole.trailers == bytewise.trailers);
  }
  if (whole.state == ChunkedDecoder::State::kError) {
    Require(whole.error == 400 || whole.error == 413 || whole.error == 431);
  }
  return 0;
}
