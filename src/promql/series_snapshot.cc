#include "promql/series_snapshot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

namespace slipway::promql {

namespace {

constexpr char kMagic[8] = {'S', 'L', 'W', 'Y', 'S', 'E', 'R', 'S'};
constexpr size_t kHeaderBytes = 40;
// Bounds a loaded file must keep (a scrape keeps far less; these only stop a count read from
// a damaged file from asking for the impossible).
constexpr uint32_t kMaxLabels = 1024;
constexpr uint32_t kMaxLabelBytes = 1u << 20;
// A sample takes at most 4 + 64 + 2 + 5 + 6 + 64 bits; the first 128.
constexpr uint64_t kMaxChunkBits = 128 + uint64_t{XorChunk::kMaxSamples} * 145;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBytes(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Reads little-endian fields from a byte range; any read past its end fails (and every later
// one), so a damaged length cannot lead outside the buffer.
class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool ok() const { return ok_; }
  size_t left() const { return d_.size() - at_; }
  uint64_t U(int bytes) {
    if (!ok_ || left() < static_cast<size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= uint64_t{static_cast<unsigned char>(d_[at_ + static_cast<size_t>(i)])} << (8 * i);
    }
    at_ += static_cast<size_t>(bytes);
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (!ok_ || left() < n) {
      ok_ = false;
      return {};
    }
    std::string_view v = d_.substr(at_, n);
    at_ += n;
    return v;
  }

 private:
  std::string_view d_;
  size_t at_ = 0;
  bool ok_ = true;
};

// A buffered write to an fd, hashing what goes through.
class Writer {
 public:
  Writer(int fd, XXH64_state_t* h) : fd_(fd), h_(h) {}
  Status Add(const std::string& s) {
    XXH64_update(h_, s.data(), s.size());
    buf_ += s;
    payload_ += s.size();
    return buf_.size() >= (1u << 20) ? Flush() : Status::OK();
  }
  Status Flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoError("write", errno);
      done += static_cast<size_t>(n);
    }
    buf_.clear();
    return Status::OK();
  }
  uint64_t payload() const { return payload_; }

 private:
  int fd_;
  XXH64_state_t* h_;
  std::string buf_;
  uint64_t payload_ = 0;
};

Status WritePayload(const SnapshotImage& image, Writer* w, SnapshotStats* stats) {
  std::string rec;
  PutU64(&rec, image.series.size());
  RETURN_IF_ERROR(w->Add(rec));
  for (const SnapshotImage::Series& s : image.series) {
    rec.clear();
    PutU32(&rec, static_cast<uint32_t>(s.labels.size()));
    for (const auto& [k, v] : s.labels) {
      PutBytes(&rec, k);
      PutBytes(&rec, v);
    }
    PutU32(&rec, static_cast<uint32_t>(s.chunks.size()));
    for (const SnapshotImage::Chunk& c : s.chunks) {
      PutU32(&rec, c.samples);
      PutU32(&rec, c.nbits);
      rec.append(reinterpret_cast<const char*>(c.bits.data()), c.bits.size());
      stats->samples += c.samples;
    }
    ++stats->series;
    RETURN_IF_ERROR(w->Add(rec));
  }
  return w->Flush();
}

Status WriteAll(int fd, const std::string& s, off_t at) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::pwrite(fd, s.data() + done, s.size() - done, at + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("write", errno);
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

std::string Header(uint64_t payload, uint64_t hash, int64_t now_ms) {
  std::string h(kMagic, sizeof kMagic);
  PutU32(&h, kSnapshotVersion);
  PutU32(&h, 0);
  PutU64(&h, payload);
  PutU64(&h, hash);
  PutU64(&h, static_cast<uint64_t>(now_ms));
  return h;
}

bool ValidLabels(const Labels& l) {
  for (size_t i = 0; i < l.size(); ++i) {
    if (!IsLabelName(l[i].first)) return false;
    if (i > 0 && !(l[i - 1].first < l[i].first)) return false;  // sorted, no name twice
  }
  return true;
}

Status Refuse(std::string why) { return InvalidInput(std::move(why)); }

}  // namespace

SnapshotImage TakeSnapshotImage(const SeriesStore& store) {
  SnapshotImage image;
  const std::vector<SeriesStore::Series*>& all = store.ByName("");
  image.series.reserve(all.size());
  for (const SeriesStore::Series* s : all) {
    SnapshotImage::Series& out = image.series.emplace_back();
    out.labels = s->labels;
    out.chunks.reserve(s->chunks.size());
    for (const XorChunk& c : s->chunks) {
      const auto* bits = c.raw().data();
      out.chunks.push_back({static_cast<uint32_t>(c.count()), static_cast<uint32_t>(c.nbits()),
                            std::vector<uint8_t>(bits, bits + (c.nbits() + 7) / 8)});
    }
  }
  return image;
}

Result<SnapshotStats> WriteSnapshot(const SeriesStore& store, const std::filesystem::path& path,
                                    int64_t now_ms) {
  return WriteSnapshot(TakeSnapshotImage(store), path, now_ms);
}

Result<SnapshotStats> WriteSnapshot(const SnapshotImage& image, const std::filesystem::path& path,
                                    int64_t now_ms) {
  const std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("open " + tmp, errno);
  SnapshotStats stats;
  Status st = WriteAll(fd, std::string(kHeaderBytes, '\0'), 0);
  XXH64_state_t* h = XXH64_createState();
  if (h == nullptr) st = Internal("out of memory");
  if (st.ok() && ::lseek(fd, static_cast<off_t>(kHeaderBytes), SEEK_SET) < 0) {
    st = ErrnoError("seek " + tmp, errno);
  }
  uint64_t payload = 0;
  if (st.ok()) {
    XXH64_reset(h, 0);
    Writer w(fd, h);
    st = WritePayload(image, &w, &stats);
    payload = w.payload();
  }
  if (st.ok()) st = WriteAll(fd, Header(payload, XXH64_digest(h), now_ms), 0);
  if (h != nullptr) XXH64_freeState(h);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync " + tmp, errno);
  if (::close(fd) != 0 && st.ok()) st = ErrnoError("close " + tmp, errno);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = ErrnoError("rename " + tmp, errno);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable once the folder is.
  const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0) return ErrnoError("fsync " + dir, err);
  }
  stats.bytes = kHeaderBytes + payload;
  return stats;
}

Result<SnapshotStats> DecodeSnapshot(std::string_view data, int64_t now_ms, SeriesStore* store) {
  if (data.size() < kHeaderBytes) {
    return Refuse(
        fmt::format("truncated ({} bytes, the header alone is {})", data.size(), kHeaderBytes));
  }
  if (std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return Refuse("not a series snapshot");
  Reader head(data.substr(sizeof kMagic, kHeaderBytes - sizeof kMagic));
  const uint64_t version = head.U(4);
  const uint64_t reserved = head.U(4);
  const uint64_t payload = head.U(8);
  const uint64_t hash = head.U(8);
  if (version != kSnapshotVersion) {
    return Refuse(fmt::format("version {} (this daemon reads {})", version, kSnapshotVersion));
  }
  if (reserved != 0) return Refuse("damaged header");
  const std::string_view body = data.substr(kHeaderBytes);
  if (payload != body.size()) {
    return Refuse(fmt::format("truncated or padded ({} payload bytes, the header says {})",
                              body.size(), payload));
  }
  if (XXH64(body.data(), body.size(), 0) != hash) return Refuse("checksum mismatch (damaged)");

  SeriesStore fresh(store->retention_ms(), store->budget_bytes());
  SnapshotStats stats;
  stats.bytes = data.size();
  Reader r(body);
  const uint64_t nseries = r.U(8);
  std::unordered_set<std::string> keys;
  std::vector<Point> points;
  for (uint64_t i = 0; i < nseries && r.ok(); ++i) {
    const uint64_t nlabels = r.U(4);
    if (nlabels > kMaxLabels) return Refuse(fmt::format("series {}: {} labels", i, nlabels));
    Labels labels;
    for (uint64_t j = 0; j < nlabels && r.ok(); ++j) {
      const uint64_t kn = r.U(4);
      std::string_view k = kn <= kMaxLabelBytes ? r.Bytes(kn) : std::string_view();
      const uint64_t vn = r.U(4);
      std::string_view v = vn <= kMaxLabelBytes ? r.Bytes(vn) : std::string_view();
      if (kn > kMaxLabelBytes || vn > kMaxLabelBytes) {
        return Refuse(fmt::format("series {}: a label over {} bytes", i, kMaxLabelBytes));
      }
      labels.emplace_back(std::string(k), std::string(v));
    }
    if (!r.ok()) break;
    if (!ValidLabels(labels)) return Refuse(fmt::format("series {}: invalid labels", i));
    if (!keys.insert(LabelsToString(labels)).second) {
      return Refuse(fmt::format("series {} twice: {}", i, LabelsToString(labels)));
    }
    const uint64_t nchunks = r.U(4);
    points.clear();
    for (uint64_t c = 0; c < nchunks && r.ok(); ++c) {
      const uint64_t count = r.U(4);
      const uint64_t nbits = r.U(4);
      if (!r.ok()) break;
      if (count == 0 || count > static_cast<uint64_t>(XorChunk::kMaxSamples) || nbits == 0 ||
          nbits > kMaxChunkBits) {
        return Refuse(fmt::format("series {}: a chunk of {} samples in {} bits", i, count, nbits));
      }
      std::string_view bits = r.Bytes((nbits + 7) / 8);
      if (!r.ok()) break;
      const size_t before = points.size();
      if (!XorChunk::DecodeRaw(reinterpret_cast<const uint8_t*>(bits.data()), nbits,
                               static_cast<int>(count), &points)) {
        return Refuse(fmt::format("series {}: a chunk does not decode", i));
      }
      for (size_t p = before; p < points.size(); ++p) {
        if (p > 0 && points[p].t_ms <= points[p - 1].t_ms) {
          return Refuse(fmt::format("series {}: times out of order", i));
        }
      }
    }
    if (!r.ok()) break;
    // Only samples inside the retention window are kept. One after now (the clock went back
    // since) would make every new scrape look old; one older than the window would be trimmed
    // at once, and a time ages away (a damaged but checksummed file) beside a recent one would
    // make a difference past int64_t.
    const int64_t oldest = now_ms - fresh.retention_ms();
    std::erase_if(points, [&](const Point& p) { return p.t_ms < oldest || p.t_ms > now_ms; });
    fresh.Restore(std::move(labels), points);
  }
  if (!r.ok()) return Refuse("truncated inside the payload");
  if (r.left() != 0) return Refuse(fmt::format("{} bytes after the last series", r.left()));
  fresh.Trim(now_ms);
  stats.series = fresh.series_count();
  stats.samples = fresh.stored_samples();
  *store = std::move(fresh);
  return stats;
}

Result<SnapshotStats> LoadSnapshot(const std::filesystem::path& path, int64_t now_ms,
                                   size_t max_bytes, SeriesStore* store) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path.string() + ": no snapshot");
    return ErrnoError("open " + path.string(), errno);
  }
  struct stat sb {};
  if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    ::close(fd);
    return Refuse("not a regular file");
  }
  const auto size = static_cast<uint64_t>(sb.st_size);
  if (size > max_bytes) {
    ::close(fd);
    return Refuse(fmt::format("{} bytes, over the {} this memory budget loads", size, max_bytes));
  }
  std::string data(size, '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(done);
  return DecodeSnapshot(data, now_ms, store);
}

}  // namespace slipway::promql
