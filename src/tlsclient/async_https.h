// AsyncHttps: runs blocking HttpsClient requests on one worker thread it owns, and hands each
// result back through a `post` function (EventLoop::Post for a loop-based caller), so an
// event loop never blocks on a TLS handshake.
//
// Requests run one at a time in submission order. The destructor stops the worker after the
// request in flight (each is bounded by its timeout); callbacks of requests still queued are
// dropped, never run. Start() / Submit() / the destructor: the owner's thread. `done` runs
// wherever `post` runs it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "tlsclient/https_client.h"

namespace slipway::tlsclient {

class AsyncHttps {
 public:
  using PostFn = std::function<void(std::function<void()>)>;
  using DoneFn = std::function<void(Result<HttpsResponse>)>;

  explicit AsyncHttps(PostFn post);
  ~AsyncHttps();
  AsyncHttps(const AsyncHttps&) = delete;
  AsyncHttps& operator=(const AsyncHttps&) = delete;

  void Submit(HttpsClient client, HttpsRequest req, DoneFn done);

 private:
  struct Job {
    HttpsClient client;
    HttpsRequest req;
    DoneFn done;
  };
  void Work();

  PostFn post_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread worker_;  // started on the first Submit
};

}  // namespace slipway::tlsclient
