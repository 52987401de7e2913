// RouterTestServer: a router served on a real loopback socket, for the route tests (test-only,
// header-only: compiled into api_tests alone, never into the library).
//
// Owns an event loop, a listener on 127.0.0.1 (a free port) and the http::HttpServer that
// dispatches each request through the router as one channel's caller (the unix socket's by
// default: those tests are about routes, not access), and the thread running the loop.
// Stopping destroys the server on its loop, then stops and joins the thread.
//
// Ownership: the test owns the server and the router; the router must outlive Stop().
// Threads: Start(), Stop(), Call() and the destructor from the test's thread; loop() may be
// given to what the routes need before Start() (it runs on the server's thread afterwards).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "api/router.h"
#include "http/client.h"
#include "http/server.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::api {

class RouterTestServer {
 public:
  RouterTestServer() : loop_(std::move(net::EventLoop::Create()).value()) {}
  ~RouterTestServer() { Stop(); }
  RouterTestServer(const RouterTestServer&) = delete;
  RouterTestServer& operator=(const RouterTestServer&) = delete;

  // Listens, serves `router` as `channel`'s caller and runs the loop on a thread.
  Status Start(Router* router, Channel channel = Channel::kUnix) {
    ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp("127.0.0.1", 0));
    ASSIGN_OR_RETURN(port_, net::LocalPort(fd.get()));
    auto dispatch = [router, channel](const http::Request& r, http::ResponseWriter w) {
      router->Dispatch(r, std::move(w), channel);
    };
    ASSIGN_OR_RETURN(server_, http::HttpServer::Create(loop_.get(), std::move(fd), dispatch,
                                                       router->ServerOptionsFor(channel)));
    thread_ = std::thread([this] { loop_->Run(); });
    return Status::OK();
  }

  // Idempotent.
  void Stop() {
    if (!thread_.joinable()) return;
    loop_->Post([this] { server_.reset(); });
    loop_->Stop();
    thread_.join();
  }

  // One request over a new connection; a failed exchange is a test failure and an empty
  // answer (status 0).
  http::ClientResponse Call(std::string method, std::string target, std::string body = "",
                            http::HeaderList headers = {}) const {
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    auto r = http::Fetch({"127.0.0.1", port_, "", nullptr, ""}, req, Duration(5000));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  net::EventLoop* loop() const { return loop_.get(); }
  int port() const { return port_; }

 private:
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace slipway::api
