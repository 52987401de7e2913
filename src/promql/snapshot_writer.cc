#include "promql/snapshot_writer.h"

#include <chrono>
#include <utility>

namespace slipway::promql {

SnapshotWriter::SnapshotWriter(WriteFn write, DoneFn done)
    : write_(std::move(write)), done_(std::move(done)) {}

SnapshotWriter::~SnapshotWriter() {
  Wait();
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool SnapshotWriter::Submit(const std::function<SnapshotImage()>& take, int64_t now_ms) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (busy_) {
      ++skipped_;
      return false;
    }
  }
  // Only the owner's thread sets busy_, so the worker stays idle while the image is taken.
  Job job{take(), now_ms};
  {
    std::lock_guard<std::mutex> l(mu_);
    job_ = std::move(job);
    busy_ = true;
  }
  if (!worker_.joinable()) worker_ = std::thread([this] { Run(); });
  cv_.notify_all();
  return true;
}

void SnapshotWriter::WriteNow(const std::function<SnapshotImage()>& take, int64_t now_ms) {
  Wait();
  Write(Job{take(), now_ms});
  std::lock_guard<std::mutex> l(mu_);
  ++written_;
}

void SnapshotWriter::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return !busy_; });
}

bool SnapshotWriter::busy() const {
  std::lock_guard<std::mutex> l(mu_);
  return busy_;
}

uint64_t SnapshotWriter::skipped() const {
  std::lock_guard<std::mutex> l(mu_);
  return skipped_;
}

uint64_t SnapshotWriter::written() const {
  std::lock_guard<std::mutex> l(mu_);
  return written_;
}

void SnapshotWriter::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return stop_ || job_.has_value(); });
    if (!job_) return;  // stop, nothing left
    Job job = std::move(*job_);
    job_.reset();
    l.unlock();
    Write(job);
    job = Job{};  // the image's memory goes back before the next tick
    l.lock();
    busy_ = false;
    ++written_;
    cv_.notify_all();
  }
}

void SnapshotWriter::Write(const Job& job) {
  const auto t0 = std::chrono::steady_clock::now();
  Result<SnapshotStats> r = write_(job.image, job.now_ms);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (done_) done_(r, job.now_ms, secs);
}

}  // namespace slipway::promql
