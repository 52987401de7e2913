// HTTP/1.1 message parsers (RFC 9112): request heads, response heads, and body framing.
//
// Zero-copy and incremental. The caller owns the bytes: it keeps the data received so far for
// the current message in one contiguous buffer that starts at the message's first byte, and
// calls Parse() with the whole buffer each time more bytes arrive. The parser remembers how far
// it has scanned, so repeated calls cost O(new bytes). Once the head is complete, every
// std::string_view the parser hands out (method, target, header names and values, reason)
// points into that buffer: they stay valid until the caller moves, frees or overwrites those
// bytes, or calls Reset()/Parse() again.
//
// Parsing is strict, to stop request smuggling and desync between this process and its peers:
// anything RFC 9112 calls invalid (and a few things it merely allows, such as obsolete line
// folding or bare LF line ends) ends in an error carrying the HTTP status to answer with:
//   400 bad syntax, ambiguous framing (Content-Length with Transfer-Encoding, differing
//       Content-Lengths, Transfer-Encoding not ending in a single `chunked`), bad chunk sizes;
//   431 head larger than ParserLimits::max_head_bytes or more than max_headers fields;
//   413 body (declared Content-Length, or chunked total) larger than max_body_bytes;
//   501 a transfer coding other than chunked (e.g. "gzip, chunked");
//   505 an HTTP version other than 1.0 / 1.1.
//
// Body bytes are not part of the head: after kHeadComplete, `head_size()` bytes of the buffer
// were the head and body framing is described by body_kind()/content_length(). Feed the bytes
// that follow to a BodyReader (or a ChunkedDecoder directly) started from that framing.
//
// Objects here are plain state machines without I/O or locking: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slipway::http {

struct ParserLimits {
  size_t max_head_bytes = 64 * 1024;      // request/status line + fields + final CRLF → 431
  size_t max_headers = 100;               // field lines → 431
  uint64_t max_body_bytes = 64ull << 20;  // decoded body (Content-Length or chunked) → 413
};

struct HeaderView {
  std::string_view name;   // as received (case preserved); compare case-insensitively
  std::string_view value;  // leading and trailing whitespace removed
};

enum class BodyKind {
  kNone,           // no body (GET without framing headers, HEAD/1xx/204/304 responses)
  kContentLength,  // exactly content_length() bytes (may be 0)
  kChunked,        // chunked transfer coding; decode with ChunkedDecoder
  kUntilClose,     // responses only: body runs until the peer closes the connection
};

enum class ParseStatus {
  kNeedMore,      // head incomplete; call again with more bytes
  kHeadComplete,  // head parsed; accessors are valid
  kError,         // malformed; error_status() says what to answer; the connection must close
};

// Case-insensitive ASCII comparison, shared by all HTTP users.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True if the comma-separated token list `list` (e.g. a Connection value) contains `token`,
// case-insensitively.
bool HasToken(std::string_view list, std::string_view token);

// Hop-by-hop fields, never forwarded as received (RFC 9110 section 7.6.1).
bool IsHopByHop(std::string_view name);

// Fields a trailer section must not carry (RFC 9110 section 6.5.1: framing, routing, request
// modifiers, authentication, response control, content processing) or that are
// connection-specific. The proxy drops them from trailers both ways, HTTP/1.1 and HTTP/2.
bool ForbiddenInTrailers(std::string_view name);

// Common state and accessors of the two head parsers.
class HeadParser {
 public:
  explicit HeadParser(ParserLimits limits) : limits_(limits) {}

  // Forget the current message; the next Parse() starts a new one. Keeps allocations.
  void Reset();

  ParseStatus status() const { return status_; }
  int error_status() const { return error_status_; }               // 0 unless status() == kError
  std::string_view error_reason() const { return error_reason_; }  // for logs, static text

  // Valid after kHeadComplete:
  size_t head_size() const { return head_size_; }       // bytes of the buffer that were the head
  int version_minor() const { return version_minor_; }  // HTTP/1.<minor>: 0 or 1
  const std::vector<HeaderView>& headers() const { return headers_; }
  // First field named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
  BodyKind body_kind() const { return body_kind_; }
  uint64_t content_length() const { return content_length_; }  // for kContentLength
  // Whether the connection may carry another message after this one: HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"; never for kUntilClose.
  bool KeepAlive() const;
  // The Upgrade field's value when Connection lists "upgrade", else empty.
  std::string_view Upgrade() const;

  const ParserLimits& limits() const { return limits_; }

 protected:
  // Finds the end of the head, scanning only new bytes. Returns false while incomplete
  // (or on error, with status_ set).
  bool FindHeadEnd(std::string_view data);
  // Parses field lines in [begin, end) of `head` (each ending in CRLF).
  bool ParseFields(std::string_view fields);
  // Applies Content-Length / Transfer-Encoding rules. `is_request` picks the fallbacks.
  bool ResolveFraming(bool is_request);
  ParseStatus Fail(int status, const char* reason);

  ParserLimits limits_;
  ParseStatus status_ = ParseStatus::kNeedMore;
  int error_status_ = 0;
  const char* error_reason_ = "";
  size_t scan_pos_ = 0;    // bytes already scanned for the head's end
  size_t skip_ = 0;        // leading empty lines ignored before a request line
  size_t line_start_ = 0;  // start of the line the scan is in
  size_t head_size_ = 0;
  int version_minor_ = 1;
  std::vector<HeaderView> headers_;
  BodyKind body_kind_ = BodyKind::kNone;
  uint64_t content_length_ = 0;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
};

class RequestParser : public HeadParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : HeadParser(limits) {}

  // `data` is everything received for this message so far, from its first byte.
  // Leading CRLFs before the request line (left over after a previous body) are skipped
  // and counted in head_size().
  ParseStatus Parse(std::string_view data);

  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }
  // True for HTTP/1.1 requests with "Expect: 100-continue" (answer 100 before reading the body).
  bool ExpectsContinue() const;

 private:
  std::string_view method_;
  std::string_view target_;
};

class ResponseParser : public HeadParser {
 public:
  explicit ResponseParser(ParserLimits limits = {}) : HeadParser(limits) {}

  // Framing of a response depends on the request: set these before parsing each response.
  // A HEAD request's response has no body; a 2xx to CONNECT is a tunnel (kNone).
  void SetRequestMethod(std::string_view method) { request_method_ = method; }

  // `data` is everything received for this response so far, from its first byte.
  // A 1xx (other than 101) is a complete message with no body: Reset() and parse the next.
  ParseStatus Parse(std::string_view data);

  int status_code() const { return status_code_; }
  std::string_view reason() const { return reason_; }

 private:
  std::string request_method_ = "GET";
  int status_code_ = 0;
  std::string_view reason_;
};

// Incremental decoder of the chunked transfer coding (RFC 9112 section 7.1): chunk sizes in
// hex, chunk extensions (skipped), data, last chunk, trailer fields, final CRLF. Zero-copy for
// data: each step returns a slice of its input. Trailers are copied (they may span feeds).
// The end of the last chunk's line ends a step of its own, so a caller relaying the raw bytes
// can tell the chunks from the trailer section (in_trailers()) and rewrite the latter.
class ChunkedDecoder {
 public:
  enum class State { kNeedMore, kDone, kError };
  struct Step {
    State state = State::kNeedMore;
    size_t consumed = 0;    // bytes of `in` used by this step; drop them before the next call
    std::string_view data;  // decoded body bytes in `in` (possibly empty)
  };

  explicit ChunkedDecoder(ParserLimits limits = {}) : limits_(limits) {}
  void Reset();

  // Decodes from the start of `in`. Returns at most one data slice per call; call again with
  // the rest of `in` while consumed > 0 and state is kNeedMore. After kDone, `consumed`
  // excludes any bytes of the next message. After kError, error_status() is 400 (syntax),
  // 413 (body over max_body_bytes) or 431 (trailers over max_head_bytes / max_headers).
  Step Decode(std::string_view in);

  int error_status() const { return error_status_; }
  uint64_t body_bytes() const { return total_; }
  const std::vector<std::pair<std::string, std::string>>& trailers() const { return trailers_; }
  // True between the last chunk's line and the end of the message: what Decode consumes now
  // is the trailer section (its fields, then the final CRLF).
  bool in_trailers() const { return phase_ == Phase::kTrailer; }

 private:
  enum class Phase { kSize, kExt, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kDone, kError };
  Step Error(int status, size_t consumed);

  ParserLimits limits_;
  Phase phase_ = Phase::kSize;
  uint64_t chunk_left_ = 0;
  uint64_t total_ = 0;
  int size_digits_ = 0;
  size_t ext_bytes_ = 0;
  int error_status_ = 0;
  std::string line_;  // current trailer line being assembled
  size_t trailer_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> trailers_;
};

// One body, whatever its framing: feed bytes, get data slices, learn when it ends.
class BodyReader {
 public:
  using State = ChunkedDecoder::State;
  using Step = ChunkedDecoder::Step;

  explicit BodyReader(ParserLimits limits = {}) : chunked_(limits), limits_(limits) {}
  // Prepares for a body framed as `kind` (`length` for kContentLength).
  void Start(BodyKind kind, uint64_t length);
  // Same contract as ChunkedDecoder::Decode. kNone and an empty kContentLength are kDone at
  // once; kUntilClose never ends by itself: call Finish() when the peer closes.
  Step Decode(std::string_view in);
  // The peer closed: kDone for kUntilClose, kError for a body cut short.
  State Finish();

  bool done() const { return done_; }
  int error_status() const;
  const std::vector<std::pair<std::string, std::string>>& trailers() const {
    return chunked_.trailers();
  }
  // ChunkedDecoder::in_trailers() of a chunked body; false for any other framing.
  bool in_trailers() const { return kind_ == BodyKind::kChunked && chunked_.in_trailers(); }

 private:
  ChunkedDecoder chunked_;
  ParserLimits limits_;
  BodyKind kind_ = BodyKind::kNone;
  uint64_t left_ = 0;
  uint64_t total_ = 0;
  bool done_ = true;
  int error_status_ = 0;
};

}  // namespace slipway::http
