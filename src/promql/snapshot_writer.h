// SnapshotWriter: writes the series store's snapshots on a worker thread, so the encode, the
// write and the fsync (a second or more for a full store on a slow disk) never hold the
// daemon's control loop.
//
// The owner hands it a way to take a frozen image of the store (promql/series_snapshot.h,
// TakeSnapshotImage: a memory copy) and goes on; the worker writes the image and reports the
// outcome to `done`. At most one write is in flight: a Submit() while one runs takes no image,
// returns false and counts a skip (the next tick writes newer data anyway). WriteNow() is for
// the writes that must be on disk before the process goes on (a clean stop, a handover): it
// waits for the write in flight, then writes on the calling thread.
//
// Ownership: the daemon owns the writer; the writer owns its thread (started on the first
// Submit, joined by the destructor after the write in flight ends).
// Threads: Submit(), WriteNow(), Wait() and the destructor from the owner's one thread (the
// control loop); `write` and `done` run on the worker (or, for WriteNow, the calling thread),
// never two at once. busy(), skipped() and written() from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "base/status.h"
#include "promql/series_snapshot.h"

namespace slipway::promql {

class SnapshotWriter {
 public:
  // Writes one image (the daemon's: WriteSnapshot to the project's file).
  using WriteFn = std::function<Result<SnapshotStats>(const SnapshotImage&, int64_t now_ms)>;
  // The outcome of one write: `now_ms` as submitted, `seconds` the write's own time.
  using DoneFn =
      std::function<void(const Result<SnapshotStats>& result, int64_t now_ms, double seconds)>;

  SnapshotWriter(WriteFn write, DoneFn done);
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // Takes an image with `take` and hands it to the worker; when a write is still in flight,
  // calls nothing, counts a skip and returns false.
  bool Submit(const std::function<SnapshotImage()>& take, int64_t now_ms);
  // Waits for the write in flight, then takes an image and writes it on this thread.
  void WriteNow(const std::function<SnapshotImage()>& take, int64_t now_ms);
  // Returns once no write is in flight.
  void Wait();

  bool busy() const;
  uint64_t skipped() const;
  uint64_t written() const;  // writes finished, failed ones included

 private:
  struct Job {
    SnapshotImage image;
    int64_t now_ms = 0;
  };
  void Run();
  void Write(const Job& job);

  const WriteFn write_;
  const DoneFn done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a job came, a job ended, or stop
  std::optional<Job> job_;      // handed over, not yet taken by the worker
  bool busy_ = false;           // a job handed over and not finished
  bool stop_ = false;
  uint64_t skipped_ = 0;
  uint64_t written_ = 0;
  std::thread worker_;
};

}  // namespace slipway::promql
