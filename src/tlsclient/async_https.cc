#include "tlsclient/async_https.h"

namespace slipway::tlsclient {

AsyncHttps::AsyncHttps(PostFn post) : post_(std::move(post)) {}

AsyncHttps::~AsyncHttps() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void AsyncHttps::Submit(HttpsClient client, HttpsRequest req, DoneFn done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back({std::move(client), std::move(req), std::move(done)});
  }
  if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
  cv_.notify_one();
}

void AsyncHttps::Work() {
  for (;;) {
    Job job{HttpsClient(), {}, nullptr};
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Result<HttpsResponse> r = job.client.Do(job.req);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;  // the owner is going away: its callbacks must not run
    }
    post_([done = std::move(job.done), r = std::move(r)]() mutable { done(std::move(r)); });
  }
}

}  // namespace slipway::tlsclient
