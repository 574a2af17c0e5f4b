// WindowNumbers: the numbers of one window of one series (exact count, sum, min and max, and the
// DDSketch behind its percentiles), and their form in a v1::WindowAggregate row.
//
// The window engine keeps one per open 1-minute window and builds 5-minute numbers by merging
// those; the row functions are the only place that decides how the numbers are stored, so
// storing and restoring a window round-trips exactly.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_NUMBERS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_NUMBERS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/sketch/ddsketch.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::aggregation {

// a + b, held at +/-DBL_MAX instead of overflowing to infinity. Validation keeps values within
// events::kMaxAbsValue, so a sum reaches the bound only past about 10^18 events; this keeps the
// promise (no infinity in a stored aggregate) for input that skipped validation too.
inline double SaturatedSum(double a, double b) {
  return std::clamp(a + b, std::numeric_limits<double>::lowest(),
                    std::numeric_limits<double>::max());
}

struct WindowNumbers {
  // Empty numbers whose sketch has this accuracy and bucket bound (DDSketch's preconditions).
  WindowNumbers(double relative_accuracy, size_t max_buckets)
      : sketch(relative_accuracy, max_buckets) {}

  // Counts one finite value. Inline: every counted event pays it.
  void Add(double value) {
    ++count;
    sum = SaturatedSum(sum, value);
    if (value < min) min = value;
    if (value > max) max = value;
    sketch.Add(value);
  }

  // Counts a validated distribution (events::CheckDistribution passed): count, sum (saturated),
  // min and max exactly, its buckets into the sketch (sketch::AddDistribution). Fails with
  // OutOfRange, leaving these unchanged, when the count would pass kMaxWindowCount.
  absl::Status AddDistribution(const v1::Distribution& distribution);

  // The most values one 1-minute window counts: five of them still merge into a 5-minute count
  // the store takes (a BIGINT, at most 2^63 - 1; 5 * 2^60 is about 5.8e18). Only distributions
  // (a count each) can get near it.
  static constexpr uint64_t kMaxWindowCount = uint64_t{1} << 60;

  // Adds `other`'s numbers to these: sum += other.sum (saturated), so merging parts in window order
  // makes the same additions whoever does it. Fails, leaving these unchanged, when the sketches
  // cannot be merged (DDSketch::Merge: different accuracies, or a count past 2^64 - 1).
  absl::Status Merge(const WindowNumbers& other);

  uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  sketch::DDSketch sketch;
};

// Sets count, sum, avg = sum / count, min, max, p50/p95/p99 (DDSketch::Quantile),
// relative_accuracy and sketch of `row`; other fields are left as they are. Precondition:
// numbers.count >= 1 (a window is stored only once it has an event).
void SetNumbers(const WindowNumbers& numbers, v1::WindowAggregate* row);

// Reads back what SetNumbers stored. Fails with InvalidArgument when count is 0, the sketch does
// not parse (DDSketch::FromProto's reason, with `max_buckets`), its accuracy is not exactly
// `relative_accuracy`, or its count differs from count.
absl::StatusOr<WindowNumbers> NumbersFromRow(const v1::WindowAggregate& row,
                                             double relative_accuracy, size_t max_buckets);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_NUMBERS_H_
