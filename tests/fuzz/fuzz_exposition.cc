// Fuzzes the exposition parser with small limits, and feeds what parses into a series store
// with a tiny budget: neither may crash, read out of bounds or exceed its bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "promql/exposition.h"
#include "promql/series_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  slipway::promql::ExpositionLimits lim;
  lim.max_samples = 100;
  lim.max_label_length = 64;
  lim.max_labels = 8;
  auto r = slipway::promql::ParseExposition(text, lim);
  if (!r.ok()) return 0;
  if (r->size() > lim.max_samples) __builtin_trap();
  static slipway::promql::SeriesStore store(60'000, 16 * 1024);
  static int64_t t = 1'700'000'000'000;
  t += 1000;
  store.Ingest(t, std::move(r).value(), size % 2 ? "a" : "b");
  if (store.bytes() > 16 * 1024) __builtin_trap();
  return 0;
}
