// Fuzzes the series store's snapshot decoder (src/promql/series_snapshot.cc), what a daemon
// reads from .slipway/series.snapshot at start: any bytes either load or are refused whole.
// The header's checksum would stop nearly every mutation at the first check, so the fuzzer's
// bytes are the payload and the header is made to match (what a damaged but consistent file,
// or a hostile one, looks like), except when the input asks for its own header (first byte
// odd). A store that loads must stay within its budget, hold what the decoder counted and no
// sample after the load's time; one refused must keep what it had.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/series_snapshot.h"
#include "promql/series_store.h"

namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr size_t kBudget = 64 * 1024;

void Put(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void Require(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using slipway::promql::SeriesStore;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string file;
  if (!in.empty() && (static_cast<unsigned char>(in[0]) & 1) != 0) {
    file.assign(in.substr(1));  // raw: header and all
  } else {
    const std::string_view payload = in.empty() ? in : in.substr(1);
    file = "SLWYSERS";
    Put(&file, slipway::promql::kSnapshotVersion, 4);
    Put(&file, 0, 4);
    Put(&file, payload.size(), 8);
    Put(&file, XXH64(payload.data(), payload.size(), 0), 8);
    Put(&file, static_cast<uint64_t>(kNow), 8);
    file.append(payload);
  }
  SeriesStore store(3'600'000, kBudget);
  store.Ingest(kNow - 1000, {{{{"__name__", "before"}}, 1}});
  auto r = slipway::promql::DecodeSnapshot(file, kNow, &store);
  if (!r.ok()) {
    // Refused whole: the store keeps what it had.
    Require(store.series_count() == 1 && store.ByName("before").size() == 1);
    Require(r.status().message().find('\n') == std::string::npos);
    return 0;
  }
  Require(store.bytes() <= kBudget);
  Require(r->series == store.series_count() && r->samples == store.stored_samples());
  for (const SeriesStore::Series* s : store.ByName("")) Require(s->last_t <= kNow);
  return 0;
}
