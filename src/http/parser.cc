#include "http/parser.h"

#include <array>
#include <cstring>
#include <limits>

namespace slipway::http {

namespace {

constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kToken = MakeTokenTable();

inline bool IsToken(char c) { return kToken[static_cast<unsigned char>(c)]; }
inline bool IsOws(char c) { return c == ' ' || c == '\t'; }
// Field-value bytes: HTAB, visible ASCII, SP, obs-text. Everything else is a control byte.
inline bool IsValueByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool IsAllTokens(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsToken(c)) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each non-empty element of a comma-separated list; stops on false.
template <typename F>
bool ForEachElement(std::string_view list, F&& f) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view elem = TrimOws(list.substr(0, comma));
    if (!elem.empty() && !f(elem)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// Strict 1*DIGIT into *out; false on empty, non-digit or overflow past 2^62.
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v > (uint64_t{1} << 62) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "HTTP/1.1" → 1, "HTTP/1.0" → 0; -505 for another well-formed version; -400 if malformed.
int ParseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return -400;
  if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') return -400;
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return -505;
  return v[7] - '0';
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool HasToken(std::string_view list, std::string_view token) {
  bool found = false;
  ForEachElement(list, [&](std::string_view e) {
    if (EqualsIgnoreCase(e, token)) found = true;
    return !found;
  });
  return found;
}

bool IsHopByHop(std::string_view n) {
  return EqualsIgnoreCase(n, "connection") || EqualsIgnoreCase(n, "keep-alive") ||
         EqualsIgnoreCase(n, "proxy-connection") || EqualsIgnoreCase(n, "te") ||
         EqualsIgnoreCase(n, "upgrade");
}

bool ForbiddenInTrailers(std::string_view n) {
  static constexpr std::string_view kForbidden[] = {"host",
                                                    "content-length",
                                                    "transfer-encoding",
                                                    "trailer",
                                                    "te",
                                                    "expect",
                                                    "max-forwards",
                                                    "cache-control",
                                                    "pragma",
                                                    "range",
                                                    "if-match",
                                                    "if-none-match",
                                                    "if-range",
                                                    "if-modified-since",
                                                    "if-unmodified-since",
                                                    "authorization",
                                                    "cookie",
                                                    "set-cookie",
                                                    "proxy-authorization",
                                                    "www-authenticate",
                                                    "age",
                                                    "proxy-authenticate",
                                                    "expires",
                                                    "date",
                                                    "location",
                                                    "retry-after",
                                                    "vary",
                                                    "warning",
                                                    "content-type",
                                                    "content-encoding",
                                                    "content-range"};
  if (IsHopByHop(n)) return true;
  for (std::string_view f : kForbidden)
    if (EqualsIgnoreCase(n, f)) return true;
  return false;
}

// ---------------------------------------------------------------- HeadParser

void HeadParser::Reset() {
  status_ = ParseStatus::kNeedMore;
  error_status_ = 0;
  error_reason_ = "";
  scan_pos_ = 0;
  skip_ = 0;
  line_start_ = 0;
  head_size_ = 0;
  version_minor_ = 1;
  headers_.clear();
  body_kind_ = BodyKind::kNone;
  content_length_ = 0;
  has_content_length_ = false;
  has_transfer_encoding_ = false;
}

ParseStatus HeadParser::Fail(int status, const char* reason) {
  status_ = ParseStatus::kError;
  error_status_ = status;
  error_reason_ = reason;
  return status_;
}

std::optional<std::string_view> HeadParser::Header(std::string_view name) const {
  for (const HeaderView& h : headers_) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

bool HeadParser::KeepAlive() const {
  if (body_kind_ == BodyKind::kUntilClose) return false;
  bool close = false, keep = false;
  for (const HeaderView& h : headers_) {
    if (!EqualsIgnoreCase(h.name, "connection")) continue;
    if (HasToken(h.value, "close")) close = true;
    if (HasToken(h.value, "keep-alive")) keep = true;
  }
  if (close) return false;
  return version_minor_ >= 1 || keep;
}

std::string_view HeadParser::Upgrade() const {
  bool listed = false;
  for (const HeaderView& h : headers_) {
    if (EqualsIgnoreCase(h.name, "connection") && HasToken(h.value, "upgrade")) listed = true;
  }
  if (!listed) return {};
  return Header("upgrade").value_or(std::string_view());
}

bool HeadParser::FindHeadEnd(std::string_view data) {
  const char* base = data.data();
  size_t pos = scan_pos_;
  while (pos < data.size()) {
    const void* hit = std::memchr(base + pos, '\n', data.size() - pos);
    if (hit == nullptr) {
      pos = data.size();
      break;
    }
    size_t lf = static_cast<size_t>(static_cast<const char*>(hit) - base);
    if (lf == 0 || base[lf - 1] != '\r') {
      Fail(400, "bare LF in head");
      return false;
    }
    if (lf - line_start_ == 1 && line_start_ > skip_) {  // empty line: end of head
      head_size_ = lf + 1;
      scan_pos_ = head_size_;
      if (head_size_ - skip_ > limits_.max_head_bytes) {
        Fail(431, "head too large");
        return false;
      }
      return true;
    }
    line_start_ = lf + 1;
    pos = lf + 1;
  }
  scan_pos_ = pos;
  if (data.size() - skip_ > limits_.max_head_bytes) Fail(431, "head too large");
  return false;
}

bool HeadParser::ParseFields(std::string_view fields) {
  headers_.clear();
  while (!fields.empty()) {
    size_t lf = fields.find('\n');  // FindHeadEnd guaranteed every line ends in CRLF
    std::string_view line = fields.substr(0, lf - 1);
    fields.remove_prefix(lf + 1);
    if (IsOws(line.front())) {
      Fail(400, "obsolete line folding");
      return false;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      Fail(400, "field line without colon");
      return false;
    }
    std::string_view name = line.substr(0, colon);
    if (!name.empty() && IsOws(name.back())) {
      Fail(400, "whitespace before colon");
      return false;
    }
    if (!IsAllTokens(name)) {
      Fail(400, "invalid field name");
      return false;
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    for (char c : value) {
      if (!IsValueByte(c)) {
        Fail(400, "control byte in field value");
        return false;
      }
    }
    if (headers_.size() >= limits_.max_headers) {
      Fail(431, "too many header fields");
      return false;
    }
    headers_.push_back(HeaderView{name, value});
  }
  return true;
}

bool HeadParser::ResolveFraming(bool is_request) {
  // Content-Length: identical repeats (separate lines or "5, 5") fold; anything else is fatal.
  uint64_t cl = 0;
  bool chunked_last = false;
  int chunked_count = 0;
  bool other_coding = false;
  bool te_empty = false;
  for (const HeaderView& h : headers_) {
    if (EqualsIgnoreCase(h.name, "content-length")) {
      bool any = false;
      bool ok = ForEachElement(h.value, [&](std::string_view e) {
        uint64_t v;
        if (!ParseDecimal(e, &v)) return false;
        if (has_content_length_ && v != cl) return false;
        cl = v;
        has_content_length_ = true;
        any = true;
        return true;
      });
      if (!ok || !any) {
        Fail(400, "invalid or conflicting Content-Length");
        return false;
      }
    } else if (EqualsIgnoreCase(h.name, "transfer-encoding")) {
      has_transfer_encoding_ = true;
      bool any = false;
      bool ok = ForEachElement(h.value, [&](std::string_view e) {
        any = true;
        if (EqualsIgnoreCase(e, "chunked")) {
          ++chunked_count;
          chunked_last = true;
          return true;
        }
        // A coding name, optionally with parameters; chunked never takes any.
        std::string_view name = TrimOws(e.substr(0, e.find(';')));
        if (!IsAllTokens(name)) return false;
        if (EqualsIgnoreCase(name, "chunked")) ++chunked_count;
        other_coding = true;
        chunked_last = false;
        return true;
      });
      if (!ok) {
        Fail(400, "invalid Transfer-Encoding");
        return false;
      }
      if (!any) te_empty = true;
    }
  }
  if (has_transfer_encoding_) {
    if (has_content_length_) {
      Fail(400, "both Content-Length and Transfer-Encoding");
      return false;
    }
    if (te_empty || chunked_count > 1) {
      Fail(400, "invalid Transfer-Encoding");
      return false;
    }
    if (is_request && version_minor_ == 0) {
      Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (!chunked_last) {
      if (is_request) {
        Fail(400, "Transfer-Encoding does not end in chunked");
        return false;
      }
      body_kind_ = BodyKind::kUntilClose;  // RFC 9112 6.3 rule 4 for responses
      return true;
    }
    if (other_coding) {
      Fail(501, "unsupported transfer coding");
      return false;
    }
    body_kind_ = BodyKind::kChunked;
    return true;
  }
  if (has_content_length_) {
    if (cl > limits_.max_body_bytes) {
      Fail(413, "body too large");
      return false;
    }
    body_kind_ = BodyKind::kContentLength;
    content_length_ = cl;
    return true;
  }
  body_kind_ = is_request ? BodyKind::kNone : BodyKind::kUntilClose;
  return true;
}

// ---------------------------------------------------------------- RequestParser

ParseStatus RequestParser::Parse(std::string_view data) {
  if (status_ != ParseStatus::kNeedMore) return status_;
  if (scan_pos_ == skip_) {
    // Ignore empty lines before the request line (RFC 9112 2.2), e.g. a CRLF after a body.
    while (data.size() >= skip_ + 2 && data[skip_] == '\r' && data[skip_ + 1] == '\n') {
      skip_ += 2;
      if (skip_ > limits_.max_head_bytes) return Fail(431, "head too large");
    }
    scan_pos_ = skip_;
    line_start_ = skip_;
    if (data.size() == skip_ + 1 && data[skip_] == '\r') return status_;  // maybe another CRLF
  }
  if (!FindHeadEnd(data)) return status_;

  std::string_view head = data.substr(skip_, head_size_ - skip_);
  size_t lf = head.find('\n');
  std::string_view line = head.substr(0, lf - 1);
  std::string_view fields = head.substr(lf + 1, head.size() - (lf + 1) - 2);

  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return Fail(400, "malformed request line");
  method_ = line.substr(0, sp1);
  if (!IsAllTokens(method_)) return Fail(400, "invalid method");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Fail(400, "malformed request line");
  target_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target_.empty()) return Fail(400, "empty request target");
  for (char c : target_) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return Fail(400, "invalid byte in request target");
  }
  int v = ParseVersion(line.substr(sp2 + 1));
  if (v == -505) return Fail(505, "unsupported HTTP version");
  if (v < 0) return Fail(400, "malformed HTTP version");
  version_minor_ = v;

  if (!ParseFields(fields)) return status_;

  // Exactly one Host in HTTP/1.1 (RFC 9112 3.2); never several.
  int hosts = 0;
  for (const HeaderView& h : headers_) {
    if (EqualsIgnoreCase(h.name, "host")) ++hosts;
  }
  if (hosts > 1 || (hosts == 0 && version_minor_ == 1))
    return Fail(400, "missing or repeated Host");

  if (!ResolveFraming(/*is_request=*/true)) return status_;
  status_ = ParseStatus::kHeadComplete;
  return status_;
}

bool RequestParser::ExpectsContinue() const {
  if (version_minor_ < 1) return false;
  auto e = Header("expect");
  return e && EqualsIgnoreCase(*e, "100-continue");
}

// ---------------------------------------------------------------- ResponseParser

ParseStatus ResponseParser::Parse(std::string_view data) {
  if (status_ != ParseStatus::kNeedMore) return status_;
  if (!FindHeadEnd(data)) return status_;

  std::string_view head = data.substr(0, head_size_);
  size_t lf = head.find('\n');
  std::string_view line = head.substr(0, lf - 1);
  std::string_view fields =
      lf + 1 + 2 <= head.size() ? head.substr(lf + 1, head.size() - (lf + 1) - 2) : "";

  // status-line = HTTP-version SP 3DIGIT SP [ reason ]; a missing final SP is tolerated.
  if (line.size() < 12 || line[8] != ' ') return Fail(400, "malformed status line");
  int v = ParseVersion(line.substr(0, 8));
  if (v == -505) return Fail(505, "unsupported HTTP version");
  if (v < 0) return Fail(400, "malformed HTTP version");
  version_minor_ = v;
  int code = 0;
  for (int i = 9; i < 12; ++i) {
    char c = line[i];
    if (c < '0' || c > '9') return Fail(400, "malformed status code");
    code = code * 10 + (c - '0');
  }
  if (code < 100) return Fail(400, "malformed status code");
  status_code_ = code;
  if (line.size() > 12 && line[12] != ' ') return Fail(400, "malformed status line");
  reason_ = line.size() > 13 ? line.substr(13) : std::string_view();
  for (char c : reason_) {
    if (!IsValueByte(c)) return Fail(400, "control byte in reason phrase");
  }

  if (!ParseFields(fields)) return status_;
  if (!ResolveFraming(/*is_request=*/false)) return status_;
  bool no_body = (code >= 100 && code < 200) || code == 204 || code == 304 ||
                 EqualsIgnoreCase(request_method_, "HEAD") ||
                 (EqualsIgnoreCase(request_method_, "CONNECT") && code >= 200 && code < 300);
  if (no_body) {
    body_kind_ = BodyKind::kNone;
    content_length_ = 0;
  }
  status_ = ParseStatus::kHeadComplete;
  return status_;
}

// ---------------------------------------------------------------- ChunkedDecoder

namespace {
constexpr size_t kMaxExtBytes = 4096;
constexpr int kMaxSizeDigits = 16;
}  // namespace

void ChunkedDecoder::Reset() {
  phase_ = Phase::kSize;
  chunk_left_ = 0;
  total_ = 0;
  size_digits_ = 0;
  ext_bytes_ = 0;
  error_status_ = 0;
  line_.clear();
  trailer_bytes_ = 0;
  trailers_.clear();
}

ChunkedDecoder::Step ChunkedDecoder::Error(int status, size_t consumed) {
  phase_ = Phase::kError;
  error_status_ = status;
  return Step{State::kError, consumed, {}};
}

ChunkedDecoder::Step ChunkedDecoder::Decode(std::string_view in) {
  size_t i = 0;
  while (true) {
    switch (phase_) {
      case Phase::kDone:
        return Step{State::kDone, i, {}};
      case Phase::kError:
        return Step{State::kError, i, {}};
      case Phase::kData: {
        if (i == in.size()) return Step{State::kNeedMore, i, {}};
        size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size() - i));
        std::string_view data = in.substr(i, n);
        chunk_left_ -= n;
        if (chunk_left_ == 0) phase_ = Phase::kDataCr;
        return Step{State::kNeedMore, i + n, data};
      }
      default:
        break;
    }
    if (i == in.size()) return Step{State::kNeedMore, i, {}};
    char c = in[i++];
    switch (phase_) {
      case Phase::kSize: {
        int h = HexValue(c);
        if (h >= 0) {
          if (++size_digits_ > kMaxSizeDigits || chunk_left_ > (~uint64_t{0} >> 4))
            return Error(400, i);
          chunk_left_ = (chunk_left_ << 4) | static_cast<uint64_t>(h);
        } else if (size_digits_ == 0) {
          return Error(400, i);  // sign, space, "0x", empty size
        } else if (c == ';') {
          phase_ = Phase::kExt;
        } else if (c == '\r') {
          phase_ = Phase::kSizeLf;
        } else {
          return Error(400, i);
        }
        break;
      }
      case Phase::kExt:
        if (c == '\r') {
          phase_ = Phase::kSizeLf;
        } else if (!IsValueByte(c) || ++ext_bytes_ > kMaxExtBytes) {
          return Error(400, i);
        }
        break;
      case Phase::kSizeLf:
        if (c != '\n') return Error(400, i);
        size_digits_ = 0;
        ext_bytes_ = 0;
        if (chunk_left_ == 0) {
          phase_ = Phase::kTrailer;
          return Step{State::kNeedMore, i, {}};  // the trailer section starts a step
        }
        if (chunk_left_ > limits_.max_body_bytes - std::min(total_, limits_.max_body_bytes))
          return Error(413, i);
        total_ += chunk_left_;
        phase_ = Phase::kData;
        break;
      case Phase::kDataCr:
        if (c != '\r') return Error(400, i);
        phase_ = Phase::kDataLf;
        break;
      case Phase::kDataLf:
        if (c != '\n') return Error(400, i);
        phase_ = Phase::kSize;
        break;
      case Phase::kTrailer: {
        if (++trailer_bytes_ > limits_.max_head_bytes) return Error(431, i);
        if (c != '\n') {
          line_.push_back(c);
          break;
        }
        if (line_.empty() || line_.back() != '\r') return Error(400, i);  // bare LF
        line_.pop_back();
        if (line_.empty()) {
          phase_ = Phase::kDone;
          return Step{State::kDone, i, {}};
        }
        std::string_view l = line_;
        if (IsOws(l.front())) return Error(400, i);
        size_t colon = l.find(':');
        if (colon == std::string_view::npos || !IsAllTokens(l.substr(0, colon)))
          return Error(400, i);
        std::string_view value = TrimOws(l.substr(colon + 1));
        for (char v : value) {
          if (!IsValueByte(v)) return Error(400, i);
        }
        if (trailers_.size() >= limits_.max_headers) return Error(431, i);
        trailers_.emplace_back(std::string(l.substr(0, colon)), std::string(value));
        line_.clear();
        break;
      }
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------- BodyReader

void BodyReader::Start(BodyKind kind, uint64_t length) {
  kind_ = kind;
  left_ = length;
  total_ = 0;
  error_status_ = 0;
  done_ = kind == BodyKind::kNone || (kind == BodyKind::kContentLength && length == 0);
  if (kind == BodyKind::kChunked) chunked_.Reset();
  if (kind == BodyKind::kContentLength && length > limits_.max_body_bytes) {
    error_status_ = 413;
    done_ = false;
  }
}

BodyReader::Step BodyReader::Decode(std::string_view in) {
  if (error_status_ != 0) return Step{State::kError, 0, {}};
  if (done_) return Step{State::kDone, 0, {}};
  switch (kind_) {
    case BodyKind::kContentLength: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left_, in.size()));
      left_ -= n;
      done_ = left_ == 0;
      return Step{done_ ? State::kDone : State::kNeedMore, n, in.substr(0, n)};
    }
    case BodyKind::kChunked: {
      Step s = chunked_.Decode(in);
      if (s.state == State::kDone) done_ = true;
      if (s.state == State::kError) error_status_ = chunked_.error_status();
      return s;
    }
    case BodyKind::kUntilClose:
      total_ += in.size();
      if (total_ > limits_.max_body_bytes) {
        error_status_ = 413;
        return Step{State::kError, 0, {}};
      }
      return Step{State::kNeedMore, in.size(), in};
    case BodyKind::kNone:
      break;
  }
  return Step{State::kDone, 0, {}};
}

BodyReader::State BodyReader::Finish() {
  if (error_status_ != 0) return State::kError;
  if (done_) return State::kDone;
  if (kind_ == BodyKind::kUntilClose) {
    done_ = true;
    return State::kDone;
  }
  error_status_ = 400;  // the peer closed mid-body
  return State::kError;
}

int BodyReader::error_status() const { return error_status_; }

}  // namespace slipway::http
