#include "http/client.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "http/serializer.h"
#include "net/plain_transport.h"
#include "net/socket.h"
#include "net/tls_transport.h"

namespace slipway::http {

namespace {

// "host:port", an IPv6 literal bracketed ("[::1]:80"): an error's endpoint and the Host header.
std::string HostPort(const std::string& host, int port) {
  const bool bracket = host.find(':') != std::string::npos && host.front() != '[';
  return (bracket ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string Endpoint::ToString() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  return (tls ? "https://" : "") + HostPort(host, port);
}

namespace {

// The most of an error answer's body a streaming call keeps (see Call::OnReadable).
constexpr uint64_t kMaxErrorBody = 64 * 1024;

// One exchange. Kept alive by the loop's fd callback and timer while it runs.
class Call : public std::enable_shared_from_this<Call> {
 public:
  // `max_body`: a buffered body larger than this fails the call (0 = no bound).
  Call(net::EventLoop* loop, Endpoint ep, Duration timeout, uint64_t max_body,
       std::function<bool(std::string_view)> on_chunk,
       std::function<void(Result<ClientResponse>)> done)
      : loop_(loop),
        ep_(std::move(ep)),
        timeout_(timeout),
        max_body_(max_body),
        on_chunk_(std::move(on_chunk)),
        done_(std::move(done)) {}

  void Start(const Request& req) {
    Request r = req;
    if (r.Header("host") == nullptr) {
      r.headers.emplace_back("Host",
                             ep_.unix_path.empty() ? HostPort(ep_.host, ep_.port) : "localhost");
    }
    if (r.Header("connection") == nullptr) r.headers.emplace_back("Connection", "close");
    AppendRequest(r, &out_);
    method_ = r.method;
    parser_.SetRequestMethod(method_);

    Result<net::UniqueFd> fd = ep_.unix_path.empty() ? net::ConnectTcp(ep_.host, ep_.port)
                                                     : net::ConnectUnix(ep_.unix_path);
    if (!fd.ok()) {
      Status s = fd.status();
      if (s.code() == StatusCode::kIoError) s = Unavailable(s.message());
      FailLater(s.WithContext(ep_.ToString()));
      return;
    }
    fd_ = std::move(fd).value();
    if (ep_.tls) {
      std::unique_ptr<net::TlsTransport> tls = net::TlsTransport::Connect(
          ep_.tls, fd_.get(), ep_.tls_name.empty() ? ep_.host : ep_.tls_name);
      if (!tls) {
        FailLater(Internal(ep_.ToString() + ": cannot start TLS for the name \"" +
                           (ep_.tls_name.empty() ? ep_.host : ep_.tls_name) + "\""));
        return;
      }
      tls_ = tls.get();
      transport_ = std::move(tls);
    } else {
      transport_ = std::make_unique<net::PlainTransport>(fd_.get());
      handshake_done_ = true;  // in clear the request goes out on the first writable edge
    }
    std::shared_ptr<Call> self = shared_from_this();
    Status st =
        loop_->Add(fd_.get(), EPOLLOUT | EPOLLIN, [self](uint32_t ev) { self->OnEvent(ev); });
    if (!st.ok()) {
      FailLater(st);
      return;
    }
    if (timeout_.count() > 0) {
      timer_ = loop_->RunAfter(timeout_, [self] {
        self->timer_ = 0;
        self->Complete(DeadlineExceeded("http request to " + self->ep_.ToString() +
                                        " timed out after " +
                                        std::to_string(self->timeout_.count()) + " ms"));
      });
    }
  }

 private:
  void FailLater(Status s) {
    std::shared_ptr<Call> self = shared_from_this();
    loop_->Post([self, s] { self->Complete(s); });
  }

  void OnEvent(uint32_t ev) {
    if (finished_) return;
    if (!connected_) {
      Status s = net::ConnectError(fd_.get());
      if (!s.ok()) {
        Complete(Unavailable(ep_.ToString() + ": " + s.message()));
        return;
      }
      connected_ = true;
    }
    if (!handshake_done_) {
      // TLS: the handshake first, so that a certificate that does not verify is reported as
      // such and not as a failed request.
      net::IoResult r = transport_->Handshake();
      if (r.status == net::IoStatus::kError) {
        Complete(Unavailable(ep_.ToString() + ": TLS handshake failed: " +
                             (tls_ && !tls_->error().empty() ? tls_->error() : "no reason given")));
        return;
      }
      if (r.status != net::IoStatus::kOk) {
        Watch(r.status == net::IoStatus::kWantWrite ? EPOLLOUT : EPOLLIN);
        return;
      }
      handshake_done_ = true;
      if (!Watch(out_pos_ < out_.size() ? (EPOLLIN | EPOLLOUT) : EPOLLIN)) return;
      ev |= EPOLLOUT | EPOLLIN;  // write the request now; an answer may already wait in TLS
    }
    if ((ev & EPOLLOUT) && out_pos_ < out_.size()) Write();
    if (finished_) return;
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read();
  }

  void Write() {
    while (out_pos_ < out_.size()) {
      net::IoResult r = transport_->Write(out_.data() + out_pos_, out_.size() - out_pos_);
      if (r.status == net::IoStatus::kOk) {
        out_pos_ += r.bytes;
        continue;
      }
      if (r.status == net::IoStatus::kWantWrite) return;
      if (r.status == net::IoStatus::kWantRead) break;  // TLS: readable first, then retried
      // The server may have answered early (e.g. 413) and closed: read what it said.
      out_pos_ = out_.size();
      break;
    }
    Watch(out_pos_ < out_.size() ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
  }

  // Changes what the loop waits for; a failure ends the call with that error (false).
  bool Watch(uint32_t events) {
    if (Status st = loop_->Modify(fd_.get(), events); !st.ok()) {
      Complete(st);
      return false;
    }
    return true;
  }

  void Read() {
    char buf[16384];
    while (!finished_) {
      net::IoResult r = transport_->Read(buf, sizeof buf);
      if (r.status == net::IoStatus::kOk) {
        in_.append(buf, r.bytes);
        Process();
        continue;
      }
      if (r.status == net::IoStatus::kWantRead) return;
      if (r.status == net::IoStatus::kWantWrite) {
        Watch(EPOLLIN | EPOLLOUT);
        return;
      }
      if (r.status == net::IoStatus::kError && !head_done_) {
        std::string why = tls_ && !tls_->error().empty() ? tls_->error() : std::strerror(errno);
        Complete(Unavailable(ep_.ToString() + ": connection reset: " + why));
        return;
      }
      // EOF (or reset after the head): the body may end here.
      if (!head_done_) {
        Complete(Unavailable(ep_.ToString() + ": connection closed before a response"));
      } else if (body_.Finish() == BodyReader::State::kDone) {
        Complete(std::move(resp_));
      } else {
        Complete(Unavailable(ep_.ToString() + ": connection closed mid-response"));
      }
      return;
    }
  }

  void Process() {
    while (!finished_) {
      if (!head_done_) {
        ParseStatus st = parser_.Parse(in_);
        if (st == ParseStatus::kNeedMore) return;
        if (st == ParseStatus::kError) {
          Complete(InvalidInput(ep_.ToString() + ": malformed response (" +
                                std::string(parser_.error_reason()) + ")"));
          return;
        }
        int code = parser_.status_code();
        size_t used = parser_.head_size();
        if (code >= 100 && code < 200 && code != 101) {  // interim: skip it
          in_.erase(0, used);
          parser_.Reset();
          parser_.SetRequestMethod(method_);
          continue;
        }
        resp_.status = code;
        for (const HeaderView& h : parser_.headers()) resp_.headers.emplace_back(h.name, h.value);
        body_.Start(parser_.body_kind(), parser_.content_length());
        in_.erase(0, used);
        head_done_ = true;
        // An error answer is not a stream: its body (one JSON error, a page) is kept whole,
        // bounded, and returned with its status, never handed to the stream's reader as if it
        // were one of the stream's lines; the timeout still bounds it.
        if (on_chunk_ && code >= 400) {
          on_chunk_ = nullptr;
          if (max_body_ == 0) max_body_ = kMaxErrorBody;
        }
        if (on_chunk_ && timer_ != 0) {  // streams are bounded only until the head
          loop_->Cancel(timer_);
          timer_ = 0;
        }
      }
      size_t pos = 0;
      while (!body_.done()) {
        BodyReader::Step s = body_.Decode(std::string_view(in_).substr(pos));
        pos += s.consumed;
        if (s.state == BodyReader::State::kError) {
          Complete(InvalidInput(ep_.ToString() + ": malformed response body"));
          return;
        }
        if (!s.data.empty()) {
          if (on_chunk_) {
            if (!on_chunk_(s.data)) {
              Complete(std::move(resp_));
              return;
            }
          } else {
            if (max_body_ != 0 && resp_.body.size() + s.data.size() > max_body_) {
              Complete(InvalidInput(fmt::format("{}: response body larger than {} bytes",
                                                ep_.ToString(), max_body_)));
              return;
            }
            resp_.body.append(s.data);
          }
        }
        if (s.consumed == 0) break;
      }
      in_.erase(0, pos);
      if (body_.done()) Complete(std::move(resp_));
      return;
    }
  }

  void Complete(Result<ClientResponse> r) {
    if (finished_) return;
    finished_ = true;
    if (timer_ != 0) loop_->Cancel(timer_);
    timer_ = 0;
    if (fd_) {
      loop_->Remove(fd_.get());
      tls_ = nullptr;
      transport_.reset();
      fd_.Reset();
    }
    auto done = std::move(done_);
    auto keep = shared_from_this();  // `done` may drop the last other reference
    done(std::move(r));
  }

  net::EventLoop* loop_;
  Endpoint ep_;
  Duration timeout_;
  uint64_t max_body_;
  std::function<bool(std::string_view)> on_chunk_;
  std::function<void(Result<ClientResponse>)> done_;
  std::string method_;
  net::UniqueFd fd_;
  // All I/O on fd_ goes through transport_ (destroyed before fd_ closes). tls_ is the same
  // transport when the endpoint is TLS (null in clear), for the reason of a failure.
  std::unique_ptr<net::Transport> transport_;
  net::TlsTransport* tls_ = nullptr;
  bool handshake_done_ = false;  // true from the start in clear
  std::string out_;
  size_t out_pos_ = 0;
  std::string in_;
  bool connected_ = false;
  bool head_done_ = false;
  bool finished_ = false;
  ResponseParser parser_{ParserLimits{64 * 1024, 200, ~uint64_t{0} >> 2}};
  BodyReader body_{ParserLimits{64 * 1024, 200, ~uint64_t{0} >> 2}};
  ClientResponse resp_;
  net::EventLoop::TimerId timer_ = 0;
};

}  // namespace

void FetchBoundedAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req,
                       Duration timeout, uint64_t max_body,
                       std::function<void(Result<ClientResponse>)> done) {
  auto call = std::make_shared<Call>(loop, ep, timeout, max_body, nullptr, std::move(done));
  call->Start(req);
}

void FetchStreamAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req,
                      Duration timeout, std::function<bool(std::string_view)> on_chunk,
                      std::function<void(Result<ClientResponse>)> done) {
  auto call = std::make_shared<Call>(loop, ep, timeout, 0, std::move(on_chunk), std::move(done));
  call->Start(req);
}

void FetchAsync(net::EventLoop* loop, const Endpoint& ep, const Request& req, Duration timeout,
                std::function<void(Result<ClientResponse>)> done) {
  FetchStreamAsync(loop, ep, req, timeout, nullptr, std::move(done));
}

Result<ClientResponse> Fetch(const Endpoint& ep, const Request& req, Duration timeout,
                             std::function<bool(std::string_view)> on_chunk) {
  ASSIGN_OR_RETURN(std::unique_ptr<net::EventLoop> loop, net::EventLoop::Create());
  std::optional<Result<ClientResponse>> result;
  FetchStreamAsync(loop.get(), ep, req, timeout, std::move(on_chunk),
                   [&result](Result<ClientResponse> r) { result.emplace(std::move(r)); });
  while (!result.has_value()) loop->RunOnce(Duration(1000));
  return std::move(*result);
}

}  // namespace slipway::http
