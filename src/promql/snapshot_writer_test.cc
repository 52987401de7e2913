#include "promql/snapshot_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace slipway::promql {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr auto kBound = std::chrono::seconds(10);  // what "does not return" waits at most

// A write that blocks until released: what a slow disk looks like to the writer.
class Gate {
 public:
  Result<SnapshotStats> Write(const SnapshotImage& image, int64_t now_ms) {
    std::unique_lock<std::mutex> l(mu_);
    started_.push_back(now_ms);
    cv_.notify_all();
    cv_.wait(l, [this] { return open_; });
    SnapshotStats st;
    st.series = image.series.size();
    return st;
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (bounded) until `n` writes have started.
  bool WaitStarted(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kBound, [&] { return started_.size() >= n; });
  }
  std::vector<int64_t> started() {
    std::lock_guard<std::mutex> l(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<int64_t> started_;
};

struct Outcomes {
  std::mutex mu;
  std::vector<int64_t> ok_at;  // now_ms of the writes that succeeded
  int failed = 0;
};

SnapshotWriter::DoneFn Record(Outcomes* o) {
  return [o](const Result<SnapshotStats>& r, int64_t now_ms, double secs) {
    std::lock_guard<std::mutex> l(o->mu);
    if (r.ok()) {
      o->ok_at.push_back(now_ms);
    } else {
      ++o->failed;
    }
  };
}

SnapshotImage OneSeries() {
  SnapshotImage im;
  im.series.push_back({{{"__name__", "up"}}, {}});
  return im;
}

TEST(SnapshotWriter, ABlockedWriteDoesNotBlockTheOwnerAndASecondTickIsSkipped) {
  Gate gate;
  Outcomes out;
  SnapshotWriter w([&](const SnapshotImage& im, int64_t t) { return gate.Write(im, t); },
                   Record(&out));
  EXPECT_TRUE(w.Submit(OneSeries, kT0));  // returns while the write is blocked
  ASSERT_TRUE(gate.WaitStarted(1));
  EXPECT_TRUE(w.busy());
  int taken = 0;
  EXPECT_FALSE(w.Submit(
      [&] {
        ++taken;
        return OneSeries();
      },
      kT0 + 1));
  EXPECT_EQ(taken, 0);  // a skipped tick copies nothing
  EXPECT_EQ(w.skipped(), 1u);
  EXPECT_EQ(w.written(), 0u);
  gate.Open();
  w.Wait();
  EXPECT_FALSE(w.busy());
  EXPECT_EQ(w.written(), 1u);
  EXPECT_EQ(gate.started(), std::vector<int64_t>{kT0});
  // Once idle, the next tick writes again.
  EXPECT_TRUE(w.Submit(OneSeries, kT0 + 2));
  w.Wait();
  EXPECT_EQ(w.written(), 2u);
  std::lock_guard<std::mutex> l(out.mu);
  EXPECT_EQ(out.ok_at, (std::vector<int64_t>{kT0, kT0 + 2}));
}

TEST(SnapshotWriter, StopWaitsForTheWriteInFlight) {
  Gate gate;
  Outcomes out;
  auto w = std::make_unique<SnapshotWriter>(
      [&](const SnapshotImage& im, int64_t t) { return gate.Write(im, t); }, Record(&out));
  ASSERT_TRUE(w->Submit(OneSeries, kT0));
  ASSERT_TRUE(gate.WaitStarted(1));
  auto stopped = std::async(std::launch::async, [&] { w.reset(); });
  // The destructor is still waiting on the blocked write.
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  gate.Open();
  ASSERT_EQ(stopped.wait_for(kBound), std::future_status::ready);
  std::lock_guard<std::mutex> l(out.mu);
  EXPECT_EQ(out.ok_at, std::vector<int64_t>{kT0});
}

TEST(SnapshotWriter, WriteNowWaitsForTheWriteInFlightThenWritesTheNewestImage) {
  Gate gate;
  Outcomes out;
  SnapshotWriter w([&](const SnapshotImage& im, int64_t t) { return gate.Write(im, t); },
                   Record(&out));
  ASSERT_TRUE(w.Submit(OneSeries, kT0));
  ASSERT_TRUE(gate.WaitStarted(1));
  auto final_write = std::async(std::launch::async, [&] { w.WriteNow(OneSeries, kT0 + 5); });
  EXPECT_EQ(final_write.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_EQ(gate.started().size(), 1u);  // the final write has not overlapped the first
  gate.Open();
  ASSERT_EQ(final_write.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(gate.started(), (std::vector<int64_t>{kT0, kT0 + 5}));
  EXPECT_EQ(w.written(), 2u);
  std::lock_guard<std::mutex> l(out.mu);
  EXPECT_EQ(out.ok_at, (std::vector<int64_t>{kT0, kT0 + 5}));
}

TEST(SnapshotWriter, AFailedWriteIsReportedAndTheNextTickWrites) {
  Outcomes out;
  int calls = 0;
  SnapshotWriter w(
      [&](const SnapshotImage&, int64_t) -> Result<SnapshotStats> {
        if (++calls == 1) return Internal("disk full");
        return SnapshotStats{};
      },
      Record(&out));
  ASSERT_TRUE(w.Submit(OneSeries, kT0));
  w.Wait();
  ASSERT_TRUE(w.Submit(OneSeries, kT0 + 1));
  w.Wait();
  std::lock_guard<std::mutex> l(out.mu);
  EXPECT_EQ(out.failed, 1);
  EXPECT_EQ(out.ok_at, std::vector<int64_t>{kT0 + 1});
}

// The real write on the worker: the file holds the store as it was when the image was taken,
// whatever the store took in meanwhile.
TEST(SnapshotWriter, TheFileHoldsTheStoreAsOfTheImage) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "snapwXXXXXX").string();
  const std::filesystem::path dir = ::mkdtemp(tmpl.data());
  const std::filesystem::path file = dir / "series.snapshot";
  SeriesStore store(24 * 3'600'000);
  for (int i = 0; i < 300; ++i) {
    store.Ingest(kT0 + i * 15'000, {{{{"__name__", "req_total"}, {"code", "200"}}, 1.0 * i}});
  }
  const size_t samples = store.stored_samples();
  Outcomes out;
  SnapshotWriter w([&](const SnapshotImage& im, int64_t t) { return WriteSnapshot(im, file, t); },
                   Record(&out));
  const int64_t now = kT0 + 300 * 15'000;
  ASSERT_TRUE(w.Submit([&] { return TakeSnapshotImage(store); }, now));
  // The owner goes on scraping while the worker writes.
  store.Ingest(now, {{{{"__name__", "req_total"}, {"code", "500"}}, 1}});
  w.Wait();
  SeriesStore back(24 * 3'600'000);
  auto l = LoadSnapshot(file, now, 1u << 30, &back);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->series, 1u);
  EXPECT_EQ(l->samples, samples);
  {
    std::lock_guard<std::mutex> g(out.mu);
    EXPECT_EQ(out.ok_at, std::vector<int64_t>{now});
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace slipway::promql
