// Validation of a MetricEvent's `distribution` (docs/contract.md §5): pure code, no I/O.
// ValidateEvent calls it in place of the value checks when the field is set, so a distribution
// reaches the window engine only when its counts add up and its numbers are finite; the sketch
// conversion (lib/sketch/distribution_sketch.h) relies on that.
#ifndef STREAMMETRICS_LIB_EVENTS_DISTRIBUTION_CHECK_H_
#define STREAMMETRICS_LIB_EVENTS_DISTRIBUTION_CHECK_H_

#include <cstddef>
#include <optional>

#include "lib/events/validation.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::events {

// OpenTelemetry's range of exponential histogram scales.
inline constexpr int kMinExponentialScale = -10;
inline constexpr int kMaxExponentialScale = 20;

// Returns nullopt when event.distribution() is consistent, else the first problem, checking in
// this order: metric_type is METRIC_TYPE_CUSTOM_HISTOGRAM and value is 0 (INVALID_DISTRIBUTION);
// count >= 1; sum, min and max finite (NON_FINITE_VALUE) and of magnitude at most kMaxAbsValue
// (VALUE_OUT_OF_RANGE); min <= max; sum within count * [min, max] (a relative slack of 1e-9 for
// rounding); one bucket form set; for exponential buckets the scale in
// [kMinExponentialScale, kMaxExponentialScale], zero_threshold finite and >= 0, bucket indexes
// within int32; for explicit bounds, finite and strictly increasing with one count more than
// bounds; at most `max_buckets` buckets in all; bucket counts (zero_count included) summing to
// count without overflow. Every failure but the value ones is INVALID_DISTRIBUTION.
std::optional<EventViolation> CheckDistribution(const v1::MetricEvent& event, size_t max_buckets);

}  // namespace streammetrics::events

#endif  // STREAMMETRICS_LIB_EVENTS_DISTRIBUTION_CHECK_H_
