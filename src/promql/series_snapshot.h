// The series store's snapshot: what lets scraped history survive a daemon restart.
//
// One file (`.slipway/series.snapshot`) holding every series' labels and its Gorilla-encoded
// chunks as the store keeps them (so the file is about the store's size, bounded by its
// memory budget). Written whole to a temporary file, fsync'ed and renamed over the old one
// (then the folder fsync'ed), so a crash leaves the old snapshot or the new one, never half of
// one. Layout, little-endian:
//   header (40 bytes): magic "SLWYSERS", u32 version (1), u32 0, u64 payload bytes,
//                      u64 XXH64 of the payload, i64 time written (ms)
//   payload:           u64 series; per series: u32 labels, per label u32 + name, u32 + value;
//                      u32 chunks; per chunk: u32 samples (1..120), u32 bits, the bits' bytes
// Loading checks everything before anything is kept: the size (at most `max_bytes`), the
// magic, the version, the checksum, then each count and length against what is left, labels
// sorted with valid names, times increasing within a series, no series twice. A file that
// fails any check is refused whole (the caller starts empty); one that passes is appended as
// scrapes would be, samples after `now` are left out (a clock that went back must not block
// new scrapes as out of order), then the retention and the budget apply as of `now`.
//
// Writing is two steps so the slow one can leave the store's thread: TakeSnapshotImage copies
// what the file will hold (labels and the chunks' encoded bits: a memory copy of about the
// store's size) on the store's thread; WriteSnapshot(image) encodes, writes and fsyncs it on any
// thread (the daemon's SnapshotWriter, promql/snapshot_writer.h, runs it on a worker).
//
// Plain functions over a store the caller owns; TakeSnapshotImage, LoadSnapshot and
// DecodeSnapshot on the thread that owns the store (the daemon's control loop); the image is
// plain data with no link back to the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "promql/series_store.h"

namespace slipway::promql {

inline constexpr uint32_t kSnapshotVersion = 1;

struct SnapshotStats {
  size_t bytes = 0;    // the file's size
  size_t series = 0;   // written, or loaded and kept
  size_t samples = 0;  // written, or loaded and kept (staleness markers included)
};

// A frozen copy of a store's content as a snapshot holds it.
struct SnapshotImage {
  struct Chunk {
    uint32_t samples = 0;
    uint32_t nbits = 0;
    std::vector<uint8_t> bits;  // (nbits + 7) / 8 bytes
  };
  struct Series {
    Labels labels;
    std::vector<Chunk> chunks;  // oldest first
  };
  std::vector<Series> series;
};

// Copies `store`'s series and chunks (the store's thread).
SnapshotImage TakeSnapshotImage(const SeriesStore& store);

// Writes `image` to `path` through a temporary file in the same folder (any thread; two writes
// to one path must not overlap).
Result<SnapshotStats> WriteSnapshot(const SnapshotImage& image, const std::filesystem::path& path,
                                    int64_t now_ms);
// Both steps at once, on the store's thread.
Result<SnapshotStats> WriteSnapshot(const SeriesStore& store, const std::filesystem::path& path,
                                    int64_t now_ms);

// Replaces `store`'s content with the snapshot at `path` (store keeps its retention and budget).
// NotFound when there is no file; InvalidInput (one line: why) when it is refused, and then
// `store` is left as it was.
Result<SnapshotStats> LoadSnapshot(const std::filesystem::path& path, int64_t now_ms,
                                   size_t max_bytes, SeriesStore* store);

// The same over bytes already read (what LoadSnapshot does after reading; for tests).
Result<SnapshotStats> DecodeSnapshot(std::string_view data, int64_t now_ms, SeriesStore* store);

// The largest snapshot a store with this budget loads: the file holds less than the store
// counts, so twice the budget leaves room for a budget lowered since, and no more.
inline size_t MaxSnapshotBytes(size_t budget_bytes) { return 2 * budget_bytes + (1u << 20); }

}  // namespace slipway::promql
