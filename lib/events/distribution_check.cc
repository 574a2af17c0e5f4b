// Distribution validation (contract in distribution_check.h).
#include "lib/events/distribution_check.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/repeated_field.h"

namespace streammetrics::events {
namespace {

using Counts = google::protobuf::RepeatedField<uint64_t>;

EventViolation Invalid(std::string message) {
  return EventViolation{v1::DEAD_LETTER_REASON_INVALID_DISTRIBUTION, std::move(message)};
}

std::optional<EventViolation> CheckNumber(absl::string_view field, double x) {
  if (!std::isfinite(x)) {
    return EventViolation{
        v1::DEAD_LETTER_REASON_NON_FINITE_VALUE,
        absl::StrCat("distribution.", field, " is ", x, "; it must be a finite number")};
  }
  if (std::abs(x) > kMaxAbsValue) {
    return EventViolation{v1::DEAD_LETTER_REASON_VALUE_OUT_OF_RANGE,
                          absl::StrCat("distribution.", field, " is ", x,
                                       "; its magnitude must be at most 1e290 (so sums stay "
                                       "finite)")};
  }
  return std::nullopt;
}

// Adds `counts` to *total; false on overflow past 2^64 - 1.
bool AddCounts(const Counts& counts, uint64_t* total) {
  for (const uint64_t c : counts) {
    if (c > std::numeric_limits<uint64_t>::max() - *total) return false;
    *total += c;
  }
  return true;
}

// Whether bucket indexes offset .. offset + size - 1 stay within int32.
bool IndexesFit(int32_t offset, int size) {
  return static_cast<int64_t>(offset) + size - 1 <= std::numeric_limits<int32_t>::max();
}

std::optional<EventViolation> CheckExponential(const v1::ExponentialBuckets& b, size_t max_buckets,
                                               uint64_t* total) {
  if (b.scale() < kMinExponentialScale || b.scale() > kMaxExponentialScale) {
    return Invalid(absl::StrCat("distribution.exponential.scale is ", b.scale(),
                                "; it must be in [", kMinExponentialScale, ", ",
                                kMaxExponentialScale, "]"));
  }
  if (!std::isfinite(b.zero_threshold()) || b.zero_threshold() < 0) {
    return Invalid(absl::StrCat("distribution.exponential.zero_threshold is ", b.zero_threshold(),
                                "; it must be finite and >= 0"));
  }
  const size_t buckets =
      static_cast<size_t>(b.positive_counts_size()) + static_cast<size_t>(b.negative_counts_size());
  if (buckets > max_buckets) {
    return Invalid(absl::StrCat("distribution.exponential has ", buckets, " buckets; the limit is ",
                                max_buckets));
  }
  if (!IndexesFit(b.positive_offset(), b.positive_counts_size()) ||
      !IndexesFit(b.negative_offset(), b.negative_counts_size())) {
    return Invalid("distribution.exponential bucket indexes run past 2^31 - 1");
  }
  *total = b.zero_count();
  if (!AddCounts(b.positive_counts(), total) || !AddCounts(b.negative_counts(), total)) {
    return Invalid("distribution.exponential bucket counts sum past 2^64 - 1");
  }
  return std::nullopt;
}

std::optional<EventViolation> CheckExplicit(const v1::ExplicitBuckets& b, size_t max_buckets,
                                            uint64_t* total) {
  if (static_cast<size_t>(b.counts_size()) > max_buckets) {
    return Invalid(absl::StrCat("distribution.explicit_bounds has ", b.counts_size(),
                                " buckets; the limit is ", max_buckets));
  }
  if (b.counts_size() != b.bounds_size() + 1) {
    return Invalid(absl::StrCat("distribution.explicit_bounds has ", b.bounds_size(),
                                " bounds and ", b.counts_size(), " counts; it needs ",
                                b.bounds_size() + 1, " counts (one more than bounds)"));
  }
  for (int i = 0; i < b.bounds_size(); ++i) {
    if (!std::isfinite(b.bounds(i))) {
      return Invalid(absl::StrCat("distribution.explicit_bounds.bounds[", i, "] is ", b.bounds(i),
                                  "; bounds must be finite"));
    }
    if (i > 0 && !(b.bounds(i) > b.bounds(i - 1))) {
      return Invalid(absl::StrCat("distribution.explicit_bounds.bounds[", i, "] is ", b.bounds(i),
                                  ", not above bounds[", i - 1, "] = ", b.bounds(i - 1),
                                  "; bounds must increase strictly"));
    }
  }
  *total = 0;
  if (!AddCounts(b.counts(), total)) {
    return Invalid("distribution.explicit_bounds counts sum past 2^64 - 1");
  }
  return std::nullopt;
}

}  // namespace

std::optional<EventViolation> CheckDistribution(const v1::MetricEvent& event, size_t max_buckets) {
  const v1::Distribution& d = event.distribution();
  if (event.metric_type() != v1::METRIC_TYPE_CUSTOM_HISTOGRAM) {
    return Invalid(
        absl::StrCat("an event with a distribution must have metric_type "
                     "METRIC_TYPE_CUSTOM_HISTOGRAM, not ",
                     v1::MetricType_Name(event.metric_type())));
  }
  if (event.value() != 0) {
    return Invalid(
        absl::StrCat("value is ", event.value(), " beside a distribution; set one or the other"));
  }
  if (d.count() == 0) return Invalid("distribution.count is 0; it must be at least 1");
  if (auto v = CheckNumber("sum", d.sum())) return v;
  if (auto v = CheckNumber("min", d.min())) return v;
  if (auto v = CheckNumber("max", d.max())) return v;
  if (d.min() > d.max()) {
    return Invalid(absl::StrCat("distribution.min is ", d.min(), ", above max ", d.max()));
  }
  // count values in [min, max] sum to within [count * min, count * max]; the slack covers the
  // rounding of a sum of many doubles (far below 1e-9 of it for any realistic count).
  const double n = static_cast<double>(d.count());
  const double lo = n * d.min();
  const double hi = n * d.max();
  const double slack = 1e-9 * std::max({std::abs(lo), std::abs(hi), 1.0});
  if (d.sum() < lo - slack || d.sum() > hi + slack) {
    return Invalid(absl::StrCat("distribution.sum is ", d.sum(), ", outside count * [min, max] = [",
                                lo, ", ", hi, "]"));
  }
  uint64_t total = 0;
  switch (d.buckets_case()) {
    case v1::Distribution::kExponential:
      if (auto v = CheckExponential(d.exponential(), max_buckets, &total)) return v;
      break;
    case v1::Distribution::kExplicitBounds:
      if (auto v = CheckExplicit(d.explicit_bounds(), max_buckets, &total)) return v;
      break;
    case v1::Distribution::BUCKETS_NOT_SET:
      return Invalid("distribution has no buckets; set exponential or explicit_bounds");
  }
  if (total != d.count()) {
    return Invalid(absl::StrCat("distribution.count is ", d.count(), " but its buckets hold ",
                                total, " values"));
  }
  return std::nullopt;
}

}  // namespace streammetrics::events
