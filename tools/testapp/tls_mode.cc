#include "tls_mode.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <unordered_map>

#include "http/parser.h"
#include "http/serializer.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "net/tls_context.h"
#include "net/tls_transport.h"

namespace testapp {
namespace {

using slipway::net::IoStatus;

constexpr size_t kMaxBuffered = 1 << 20;  // a client sending more than this unanswered closes

struct Conn {
  int fd = -1;
  std::unique_ptr<slipway::net::TlsTransport> tr;
  slipway::http::RequestParser parser;
  std::string in, out;
  bool have_head = false;  // the parser holds a complete head; its body may still be arriving
  bool closing = false;
};

class Server {
 public:
  Server(slipway::net::EventLoop* loop, Handler handler)
      : loop_(loop), handler_(std::move(handler)) {}

  void Accept(int lfd, const std::shared_ptr<const slipway::net::TlsServerContext>& ctx) {
    for (int i = 0; i < 256; ++i) {
      int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->tr = slipway::net::TlsTransport::Accept(ctx, fd);
      if (!c->tr) {
        close(fd);
        continue;
      }
      Conn* raw = c.get();
      if (!loop_
               ->Add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                     [this, raw](uint32_t) { OnEvent(raw); })
               .ok()) {
        close(fd);
        continue;
      }
      conns_[raw] = std::move(c);
    }
  }

 private:
  void OnEvent(Conn* c) {
    IoStatus hs = c->tr->Handshake().status;
    if (hs != IoStatus::kOk) {
      if (hs == IoStatus::kError) Close(c);
      return;
    }
    char buf[16384];
    for (int i = 0; i < 64; ++i) {
      slipway::net::IoResult r = c->tr->Read(buf, sizeof buf);
      if (r.status == IoStatus::kOk) {
        c->in.append(buf, r.bytes);
        if (c->in.size() > kMaxBuffered) return Close(c);
        continue;
      }
      if (r.status == IoStatus::kEof || r.status == IoStatus::kError) return Close(c);
      break;
    }
    Serve(c);
    Flush(c);
  }

  void Serve(Conn* c) {
    for (int n = 0; n < 64 && !c->closing; ++n) {
      if (!c->have_head) {
        auto st = c->parser.Parse(c->in);
        if (st == slipway::http::ParseStatus::kNeedMore) return;
        if (st == slipway::http::ParseStatus::kError) {
          Answer(c, slipway::http::Response::Text(400, "bad request\n"), true);
          return;
        }
        c->have_head = true;
      }
      if (c->parser.body_kind() == slipway::http::BodyKind::kChunked) {
        Answer(c, slipway::http::Response::Text(411, "a Content-Length is needed\n"), true);
        return;
      }
      size_t head = c->parser.head_size();
      size_t body = c->parser.body_kind() == slipway::http::BodyKind::kContentLength
                        ? static_cast<size_t>(c->parser.content_length())
                        : 0;
      if (body > kMaxBuffered) {
        Answer(c, slipway::http::Response::Text(413, "too large\n"), true);
        return;
      }
      if (c->in.size() < head + body) return;
      slipway::http::Request req;
      req.method = std::string(c->parser.method());
      req.target = std::string(c->parser.target());
      req.version_minor = c->parser.version_minor();
      for (const auto& h : c->parser.headers())
        req.headers.emplace_back(std::string(h.name), std::string(h.value));
      req.body = c->in.substr(head, body);
      bool keep = c->parser.KeepAlive();
      c->in.erase(0, head + body);
      c->parser.Reset();
      c->have_head = false;
      Answer(c, handler_(req), !keep);
    }
  }

  void Answer(Conn* c, const slipway::http::Response& resp, bool close) {
    slipway::http::Response r = resp;
    if (close) slipway::http::SetHeader(&r.headers, "Connection", "close");
    slipway::http::AppendResponse(r, &c->out);
    c->closing = close;
  }

  void Flush(Conn* c) {
    while (!c->out.empty()) {
      slipway::net::IoResult r = c->tr->Write(c->out.data(), c->out.size());
      if (r.status != IoStatus::kOk) {
        if (r.status == IoStatus::kError || r.status == IoStatus::kEof) Close(c);
        return;  // the next edge resumes it
      }
      c->out.erase(0, r.bytes);
    }
    if (c->closing) {
      c->tr->ShutdownWrite();
      Close(c);
    }
  }

  void Close(Conn* c) {
    loop_->Remove(c->fd);
    c->tr.reset();
    close(c->fd);
    // Destroyed after this callback: the loop keeps running the callback that got us here.
    auto it = conns_.find(c);
    if (it == conns_.end()) return;
    std::shared_ptr<Conn> dead(std::move(it->second));
    conns_.erase(it);
    loop_->RunAfter(slipway::Duration(0), [dead] {});
  }

  slipway::net::EventLoop* loop_;
  Handler handler_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
};

}  // namespace

int RunTls(const std::string& host, int port, const std::string& cert, const std::string& key,
           int signal_fd, Handler handler) {
  auto ctx = slipway::net::TlsServerContext::Create(
      {{cert, key}}, std::make_shared<slipway::net::TicketKeys>(), std::time(nullptr));
  if (!ctx.ok()) {
    std::fprintf(stderr, "testapp: %s\n", ctx.status().message().c_str());
    return 1;
  }
  auto loop = slipway::net::EventLoop::Create();
  if (!loop.ok()) return 1;
  auto lfd = slipway::net::ListenTcp(host, port, 1024, false);
  if (!lfd.ok()) {
    std::fprintf(stderr, "testapp: %s\n", lfd.status().message().c_str());
    return 1;
  }
  auto bound = slipway::net::LocalPort(lfd->get());
  Server server(loop->get(), std::move(handler));
  int l = lfd->get();
  std::shared_ptr<const slipway::net::TlsServerContext> shared = *ctx;
  if (!(*loop)->Add(l, EPOLLIN | EPOLLET, [&](uint32_t) { server.Accept(l, shared); }).ok())
    return 1;
  if (!(*loop)
           ->Add(signal_fd, EPOLLIN,
                 [](uint32_t) {
                   std::fflush(stdout);
                   _exit(0);
                 })
           .ok())
    return 1;
  std::printf("testapp: listening with TLS on %s:%d\n", host.c_str(), bound.ok() ? *bound : port);
  std::fflush(stdout);
  (*loop)->Run();
  return 0;
}

}  // namespace testapp
