// Fuzz target: a stored window row (WindowAggregate bytes, with its DDSketch) as read back from
// PostgreSQL, Redis or Kafka. NumbersFromRow / DDSketch::FromProto refuse what is inconsistent;
// what they accept answers every quantile within [min, max] of its buckets, merges with itself,
// and round-trips through ToProto unchanged.
#include <cmath>
#include <cstdint>

#include "aggregation-service/engine/window_numbers.h"
#include "lib/sketch/ddsketch.h"
#include "tests/fuzz/fuzz_check.h"

using streammetrics::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics;
  v1::WindowAggregate row;
  if (!row.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<sketch::DDSketch> sketch = sketch::DDSketch::FromProto(row.sketch());
  if (sketch.ok()) {
    Check(sketch::DDSketch::FromProto(sketch->ToProto()).ok());
    Check(*sketch::DDSketch::FromProto(sketch->ToProto()) == *sketch);
    for (double q : {0.0, 0.5, 0.99, 1.0}) {
      absl::StatusOr<double> v = sketch->Quantile(q);
      Check(!v.ok() || !std::isnan(*v));
    }
    sketch::DDSketch twice = *sketch;
    absl::Status merged = twice.Merge(*sketch);
    Check(!merged.ok() || twice.count() == 2 * sketch->count() || sketch->count() > (1ull << 62));
  }
  absl::StatusOr<aggregation::WindowNumbers> numbers =
      aggregation::NumbersFromRow(row, row.sketch().relative_accuracy(), 2048);
  if (numbers.ok()) {
    v1::WindowAggregate again;
    aggregation::SetNumbers(*numbers, &again);
    Check(again.count() == row.count());
  }
  return 0;
}
