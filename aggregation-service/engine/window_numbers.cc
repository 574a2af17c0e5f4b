// WindowNumbers: see window_numbers.h.
#include "aggregation-service/engine/window_numbers.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/common/status_macros.h"
#include "lib/sketch/distribution_sketch.h"

namespace streammetrics::aggregation {

absl::Status WindowNumbers::AddDistribution(const v1::Distribution& distribution) {
  if (distribution.count() > kMaxWindowCount || count > kMaxWindowCount - distribution.count()) {
    return absl::OutOfRangeError(
        absl::StrCat("the window holds ", count, " values; adding a distribution of ",
                     distribution.count(), " would pass ", kMaxWindowCount));
  }
  RETURN_IF_ERROR(sketch::AddDistribution(distribution, &sketch));
  count += distribution.count();
  sum = SaturatedSum(sum, distribution.sum());
  min = std::min(min, distribution.min());
  max = std::max(max, distribution.max());
  return absl::OkStatus();
}

absl::Status WindowNumbers::Merge(const WindowNumbers& other) {
  // The sketch first: it is the only part that can fail.
  RETURN_IF_ERROR(sketch.Merge(other.sketch));
  count += other.count;
  sum = SaturatedSum(sum, other.sum);
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  return absl::OkStatus();
}

void SetNumbers(const WindowNumbers& numbers, v1::WindowAggregate* row) {
  row->set_count(numbers.count);
  row->set_sum(numbers.sum);
  row->set_avg(numbers.sum / static_cast<double>(numbers.count));
  row->set_min(numbers.min);
  row->set_max(numbers.max);
  // Quantile fails only for an empty sketch, which the precondition excludes. The estimate is a
  // bucket's representative; clamping it to the exact [min, max] keeps it within the relative
  // error (the true quantile lies in that range too) and makes constant data exact: a window of
  // one value 245 says p50 = 245, not 247.2.
  auto quantile = [&numbers](double q) {
    return std::clamp(numbers.sketch.Quantile(q).value_or(0), numbers.min, numbers.max);
  };
  row->set_p50(quantile(0.50));
  row->set_p95(quantile(0.95));
  row->set_p99(quantile(0.99));
  row->set_relative_accuracy(numbers.sketch.relative_accuracy());
  *row->mutable_sketch() = numbers.sketch.ToProto();
}

absl::StatusOr<WindowNumbers> NumbersFromRow(const v1::WindowAggregate& row,
                                             double relative_accuracy, size_t max_buckets) {
  if (row.count() == 0) return absl::InvalidArgumentError("count is 0");
  absl::StatusOr<sketch::DDSketch> sketch = sketch::DDSketch::FromProto(row.sketch(), max_buckets);
  if (!sketch.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sketch: ", sketch.status().message()));
  }
  // Compared exactly: sketches of other accuracies have other buckets and could not be merged.
  if (!(sketch->relative_accuracy() == relative_accuracy)) {
    return absl::InvalidArgumentError(absl::StrCat("sketch accuracy ", sketch->relative_accuracy(),
                                                   " is not the engine's ", relative_accuracy));
  }
  if (sketch->count() != row.count()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sketch counts ", sketch->count(), " values, the row ", row.count()));
  }
  WindowNumbers numbers(relative_accuracy, max_buckets);
  numbers.count = row.count();
  numbers.sum = row.sum();
  numbers.min = row.min();
  numbers.max = row.max();
  numbers.sketch = *std::move(sketch);
  return numbers;
}

}  // namespace streammetrics::aggregation
