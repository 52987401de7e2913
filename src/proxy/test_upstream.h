// Test helpers for the proxy's end-to-end tests: a small blocking upstream HTTP server (one
// thread per connection) and a blocking HTTP client. Test-only; not part of the library
// (header-only so it is compiled into the test binary alone).
//
// UpstreamServer endpoints: "/id" → its name; "/echo" → the request body; "/sink" → the
// number of body bytes read (streamed, not kept); "/big?n=N" → N bytes (Content-Length);
// "/chunked" → three chunks; "/slow?ms=N"; "/ws" with Upgrade → 101 and raw echo; "/health".
// Every response carries "X-Upstream: <name>" and echoes X-Forwarded-For / X-Request-Id.
// ScriptedUpstream answers what a test writes (KeepAlive() makes a script serve every request
// of a connection; EchoBodyAndTrailers() is one such script); LoopbackListener is the
// listening socket all of them (and the other proxy tests' servers) stand on.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slipway::proxy::testing {

inline std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads until `delim` is in `buf` or the peer closes; false on EOF/timeout.
inline bool ReadUntil(int fd, std::string* buf, std::string_view delim) {
  char tmp[65536];
  for (int i = 0; i < 100000 && buf->find(delim) == std::string::npos; ++i) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf->append(tmp, n);
  }
  return buf->find(delim) != std::string::npos;
}

inline bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

struct Head {
  std::string start_line;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string Get(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? "" : it->second;
  }
};

inline Head ParseHead(std::string_view head) {
  Head h;
  size_t pos = head.find("\r\n");
  h.start_line = std::string(head.substr(0, pos));
  pos += 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos || e == pos) break;
    std::string_view line = head.substr(pos, e - pos);
    size_t c = line.find(':');
    std::string v(line.substr(c + 1));
    while (!v.empty() && v[0] == ' ') v.erase(0, 1);
    h.headers[Lower(std::string(line.substr(0, c)))] = v;
    pos = e + 2;
  }
  return h;
}

// Reads a body framed by `h` from fd (with `buf` holding bytes already read past the head).
// Calls sink for each piece; returns false on a protocol error or EOF.
template <typename Sink>
bool ReadBody(int fd, const Head& h, std::string* buf, bool until_close, Sink sink) {
  char tmp[65536];
  auto more = [&]() {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf->append(tmp, n);
    return true;
  };
  if (Lower(h.Get("transfer-encoding")) == "chunked") {
    for (int guard = 0; guard < 10000000; ++guard) {
      while (buf->find("\r\n") == std::string::npos)
        if (!more()) return false;
      size_t e = buf->find("\r\n");
      uint64_t size = std::stoull(buf->substr(0, e), nullptr, 16);
      buf->erase(0, e + 2);
      if (size == 0) {
        while (buf->find("\r\n") == std::string::npos)
          if (!more()) return false;
        buf->erase(0, buf->find("\r\n") + 2);  // no trailers in these tests
        return true;
      }
      while (buf->size() < size + 2)
        if (!more()) return false;
      sink(std::string_view(*buf).substr(0, size));
      buf->erase(0, size + 2);
    }
    return false;
  }
  std::string cl = h.Get("content-length");
  if (cl.empty()) {
    if (!until_close) return true;
    sink(*buf);
    buf->clear();
    for (;;) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n < 0) return false;
      if (n == 0) return true;
      sink(std::string_view(tmp, n));
    }
  }
  uint64_t left = std::stoull(cl);
  size_t take = std::min<uint64_t>(left, buf->size());
  sink(std::string_view(*buf).substr(0, take));
  buf->erase(0, take);
  left -= take;
  while (left > 0) {
    ssize_t n = read(fd, tmp, std::min<uint64_t>(left, sizeof tmp));
    if (n <= 0) return false;
    sink(std::string_view(tmp, n));
    left -= n;
  }
  return true;
}

inline void SetTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

inline int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SetTimeouts(fd, 10000);
  return fd;
}

// A TCP socket listening on 127.0.0.1 at a port the kernel picks, closed with the object (or by
// Close()). ok() is false when a step failed; then fd() is -1 and port() 0.
class LoopbackListener {
 public:
  explicit LoopbackListener(int backlog) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(fd);
      return;
    }
    fd_ = fd;
    port_ = ntohs(a.sin_port);
  }
  ~LoopbackListener() { Close(); }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  int port() const { return port_; }
  // Makes a thread blocked in accept() on fd() return an error: call before joining it.
  void Shutdown() const {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port nothing listens on (bound then closed).
inline int ClosedPort() { return LoopbackListener(1).port(); }

// An upstream whose answer a test writes: each connection's request head (up to and with the
// blank line) goes to `serve` with the socket and the bytes read past the head.
class ScriptedUpstream {
 public:
  using Serve = std::function<void(int fd, const std::string& head, std::string* rest)>;
  explicit ScriptedUpstream(Serve serve) : serve_(std::move(serve)) {
    acceptor_ = std::thread([this] {
      for (;;) {
        const int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::lock_guard<std::mutex> lock(mu_);
        fds_.push_back(fd);
        threads_.emplace_back([this, fd] {
          std::string buf;
          if (!ReadUntil(fd, &buf, "\r\n\r\n")) return;
          const size_t end = buf.find("\r\n\r\n") + 4;
          std::string head = buf.substr(0, end);
          buf.erase(0, end);
          requests_++;
          serve_(fd, head, &buf);
          shutdown(fd, SHUT_RDWR);  // one request per connection: none waits in a pool
        });
      }
    });
  }
  ~ScriptedUpstream() {
    listener_.Shutdown();
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int fd : fds_) close(fd);
  }
  int port() const { return listener_.port(); }
  int requests() const { return requests_.load(); }

 private:
  Serve serve_;
  LoopbackListener listener_{64};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

// Reads a chunked body from fd after the bytes in `buf`: the data into `body`, the trailer
// section (its field lines, "" when none) into `trailers`. False on EOF or a malformed body.
inline bool ReadChunked(int fd, std::string* buf, std::string* body, std::string* trailers) {
  auto more = [&] {
    char tmp[16384];
    const ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
    return true;
  };
  for (int guard = 0; guard < 100000; ++guard) {
    while (buf->find("\r\n") == std::string::npos)
      if (!more()) return false;
    const size_t e = buf->find("\r\n");
    const uint64_t size = std::strtoull(buf->substr(0, e).c_str(), nullptr, 16);
    buf->erase(0, e + 2);
    if (size == 0) {
      for (;;) {
        if (buf->rfind("\r\n", 0) == 0) {
          buf->erase(0, 2);
          return true;
        }
        const size_t t = buf->find("\r\n\r\n");
        if (t != std::string::npos) {
          *trailers = buf->substr(0, t + 2);
          buf->erase(0, t + 4);
          return true;
        }
        if (!more()) return false;
      }
    }
    while (buf->size() < size + 2)
      if (!more()) return false;
    body->append(*buf, 0, size);
    buf->erase(0, size + 2);
  }
  return false;
}

// Serves each request on a connection with `each`, until the proxy closes it (bounded): an
// upstream that keeps its connections alive.
inline ScriptedUpstream::Serve KeepAlive(ScriptedUpstream::Serve each) {
  return [each = std::move(each)](int fd, const std::string& first, std::string* rest) {
    std::string head = first;
    for (int i = 0; i < 64; ++i) {
      each(fd, head, rest);
      if (!ReadUntil(fd, rest, "\r\n\r\n")) return;
      const size_t end = rest->find("\r\n\r\n") + 4;
      head = rest->substr(0, end);
      rest->erase(0, end);
    }
  };
}

// Answers each request with what it received after the head: "chunked", the body and the
// trailer section, or "length" and the body. `complete` counts bodies read to their end.
inline ScriptedUpstream::Serve EchoBodyAndTrailers(std::atomic<int>* complete) {
  return [complete](int fd, const std::string& head, std::string* rest) {
    const Head h = ParseHead(head);
    std::string body, trailers, out;
    if (Lower(h.Get("transfer-encoding")) == "chunked") {
      if (!ReadChunked(fd, rest, &body, &trailers)) return;
      out = "chunked\n" + body + "\n" + trailers;
    } else {
      if (!ReadBody(fd, h, rest, false, [&](std::string_view p) { body.append(p); })) return;
      out = "length\n" + body + "\n";
    }
    (*complete)++;
    WriteAll(fd,
             "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(out.size()) + "\r\n\r\n" + out);
  };
}

class UpstreamServer {
 public:
  explicit UpstreamServer(std::string name) : name_(std::move(name)) {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~UpstreamServer() {
    stop_ = true;
    listener_.Shutdown();
    acceptor_.join();
    listener_.Close();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }
  int port() const { return listener_.port(); }
  int accepts() const { return accepts_.load(); }
  int requests() const { return requests_.load(); }
  std::string last_head() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_head_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stop_) return;
        continue;
      }
      accepts_++;
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] {
        Serve(fd);
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& f : fds_)
          if (f == fd) f = -1;
        close(fd);
      });
    }
  }

  void Serve(int fd) {
    std::string buf;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int req = 0; req < 1000000 && !stop_; ++req) {
      if (!ReadUntil(fd, &buf, "\r\n\r\n")) return;
      size_t end = buf.find("\r\n\r\n") + 4;
      std::string head_text = buf.substr(0, end);
      buf.erase(0, end);
      Head h = ParseHead(head_text);
      requests_++;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_head_ = head_text;
      }
      std::string target = h.start_line.substr(h.start_line.find(' ') + 1);
      target = target.substr(0, target.find(' '));
      std::string path = target.substr(0, target.find('?'));
      auto param = [&](const std::string& k) -> uint64_t {
        size_t p = target.find(k + "=");
        return p == std::string::npos ? 0 : std::stoull(target.substr(p + k.size() + 1));
      };
      std::string extra = "X-Upstream: " + name_ + "\r\nX-Seen-For: " + h.Get("x-forwarded-for") +
                          "\r\nX-Seen-Id: " + h.Get("x-request-id") + "\r\nX-Seen-Path: " + target +
                          "\r\n";
      if (path == "/ws" && Lower(h.Get("upgrade")) == "websocket") {
        WriteAll(fd,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n\r\n");
        if (!buf.empty() && !WriteAll(fd, buf)) return;
        char tmp[4096];
        for (;;) {
          ssize_t n = read(fd, tmp, sizeof tmp);
          if (n <= 0 || !WriteAll(fd, std::string_view(tmp, n))) return;
        }
      }
      std::string body;
      uint64_t count = 0;
      bool keep_body = path == "/echo";
      if (!ReadBody(fd, h, &buf, false, [&](std::string_view p) {
            count += p.size();
            if (keep_body) body.append(p);
          }))
        return;
      std::string resp;
      if (path == "/big") {
        uint64_t n = param("n");
        resp = "HTTP/1.1 200 OK\r\n" + extra + "Content-Length: " + std::to_string(n) + "\r\n\r\n";
        if (!WriteAll(fd, resp)) return;
        std::string block(1 << 16, 'x');
        while (n > 0) {
          size_t k = std::min<uint64_t>(n, block.size());
          if (!WriteAll(fd, std::string_view(block).substr(0, k))) return;
          n -= k;
        }
        continue;
      }
      if (path == "/chunked") {
        resp = "HTTP/1.1 200 OK\r\n" + extra +
               "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
        if (!WriteAll(fd, resp)) return;
        continue;
      }
      if (path == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(param("ms")));
      if (path == "/echo") {
        // body as is
      } else if (path == "/sink") {
        body = std::to_string(count);
      } else if (path == "/health") {
        body = "ok";
      } else {
        body = name_;
      }
      resp = "HTTP/1.1 200 OK\r\n" + extra + "Content-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body;
      if (!WriteAll(fd, resp)) return;
    }
  }

  std::string name_;
  LoopbackListener listener_{512};
  std::atomic<bool> stop_{false};
  std::atomic<int> accepts_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::string last_head_;
};

struct ClientResponse {
  int status = 0;
  Head head;
  std::string body;
  bool ok = false;
};

// Sends `request` (if not empty) and reads one response from fd. `buf` carries bytes read
// past a previous response on the same connection.
inline ClientResponse Exchange(int fd, std::string_view request, std::string* buf,
                               bool head_request = false) {
  ClientResponse r;
  if (!request.empty() && !WriteAll(fd, request)) return r;
  if (!ReadUntil(fd, buf, "\r\n\r\n")) return r;
  size_t end = buf->find("\r\n\r\n") + 4;
  r.head = ParseHead(buf->substr(0, end));
  buf->erase(0, end);
  r.status = std::stoi(r.head.start_line.substr(9, 3));
  if (head_request || r.status == 101) {
    r.ok = true;
    return r;
  }
  bool until_close =
      r.head.Get("content-length").empty() && Lower(r.head.Get("transfer-encoding")) != "chunked";
  r.ok = ReadBody(fd, r.head, buf, until_close, [&](std::string_view p) { r.body.append(p); });
  return r;
}

inline std::string Get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

// True when the peer closed (read returns 0 or reset) within the socket timeout.
inline bool PeerClosed(int fd) {
  char tmp[4096];
  for (int i = 0; i < 1000; ++i) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
  return false;
}

}  // namespace slipway::proxy::testing
