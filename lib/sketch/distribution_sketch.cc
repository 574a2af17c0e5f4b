// Distribution -> DDSketch (contract in distribution_sketch.h).
#include "lib/sketch/distribution_sketch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "lib/common/status_macros.h"

namespace streammetrics::sketch {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// base^index for base = 2^(2^-scale): 2^(index * 2^-scale), exact in the exponent's scaling.
// Overflows to +inf and underflows to 0 for extreme indexes; callers clamp to [min, max].
double ExponentialBound(int64_t index, int scale) {
  return std::exp2(std::ldexp(static_cast<double>(index), -scale));
}

// The value at which the bucket holding values in (lo, hi] is counted: its bounds clamped to the
// distribution's exact [min, max] (which also makes infinite bounds finite), then represented.
double ClampedRepresentative(double lo, double hi, const v1::Distribution& d) {
  lo = std::clamp(lo, d.min(), d.max());
  hi = std::clamp(hi, d.min(), d.max());
  return BucketRepresentative(lo, hi);
}

}  // namespace

double BucketRepresentative(double lo, double hi) {
  if (lo > 0) return lo * (2 * hi / (lo + hi));
  if (hi < 0) return -BucketRepresentative(-hi, -lo);
  return lo / 2 + hi / 2;  // halves first: lo + hi could overflow
}

absl::Status AddDistribution(const v1::Distribution& d, DDSketch* sketch) {
  if (d.count() > std::numeric_limits<uint64_t>::max() - sketch->count()) {
    return absl::OutOfRangeError(absl::StrCat("adding ", d.count(), " values to a sketch of ",
                                              sketch->count(), " overflows the count"));
  }
  // Counts add up to d.count() (the precondition), so no AddCopies below can fail.
  if (d.has_exponential()) {
    const v1::ExponentialBuckets& b = d.exponential();
    const double zero = std::clamp(0.0, d.min(), d.max());
    RETURN_IF_ERROR(sketch->AddCopies(zero, b.zero_count()));
    for (int k = 0; k < b.positive_counts_size(); ++k) {
      if (b.positive_counts(k) == 0) continue;
      const int64_t i = static_cast<int64_t>(b.positive_offset()) + k;
      const double rep = ClampedRepresentative(ExponentialBound(i, b.scale()),
                                               ExponentialBound(i + 1, b.scale()), d);
      RETURN_IF_ERROR(sketch->AddCopies(rep, b.positive_counts(k)));
    }
    for (int k = 0; k < b.negative_counts_size(); ++k) {
      if (b.negative_counts(k) == 0) continue;
      const int64_t i = static_cast<int64_t>(b.negative_offset()) + k;
      const double rep = ClampedRepresentative(-ExponentialBound(i + 1, b.scale()),
                                               -ExponentialBound(i, b.scale()), d);
      RETURN_IF_ERROR(sketch->AddCopies(rep, b.negative_counts(k)));
    }
    return absl::OkStatus();
  }
  const v1::ExplicitBuckets& b = d.explicit_bounds();
  for (int k = 0; k < b.counts_size(); ++k) {
    if (b.counts(k) == 0) continue;
    const double lo = k == 0 ? -kInf : b.bounds(k - 1);
    const double hi = k == b.bounds_size() ? kInf : b.bounds(k);
    RETURN_IF_ERROR(sketch->AddCopies(ClampedRepresentative(lo, hi, d), b.counts(k)));
  }
  return absl::OkStatus();
}

}  // namespace streammetrics::sketch
