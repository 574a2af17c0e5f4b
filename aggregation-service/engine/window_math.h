// Window arithmetic shared by the window engine, the store and the query service: window lengths
// and their names, epoch-aligned window starts, and conversions between absl::Time and
// google.protobuf.Timestamp. Pure code.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_MATH_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_MATH_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

// One minute for WINDOW_SIZE_1M, five for WINDOW_SIZE_5M, absl::ZeroDuration() for anything else
// (unspecified or a number outside the enum).
absl::Duration WindowLength(v1::WindowSize size);

// The start of the window of `length` holding `t`: the largest multiple of `length` since the
// UTC epoch that is <= t, so it floors (not truncates) for times before 1970 too. An infinite `t`
// is returned unchanged, and so is any `t` when `length` <= 0 (there is no such window).
absl::Time WindowStart(absl::Time t, absl::Duration length);

// "1m" or "5m": the window_size column value in PostgreSQL. "" for anything else.
absl::string_view WindowSizeName(v1::WindowSize size);

// Inverse of WindowSizeName: WINDOW_SIZE_1M or WINDOW_SIZE_5M, or InvalidArgument naming `name`
// for anything else (the empty string included).
absl::StatusOr<v1::WindowSize> ParseWindowSizeName(absl::string_view name);

// seconds + nanos. Precondition: a valid Timestamp (0 <= nanos < 1e9); other nanos are still
// added as they are.
absl::Time TimeFromProto(const google::protobuf::Timestamp& proto);

// The Timestamp of `t`, rounded down to the nanosecond (nanos always in [0, 1e9)).
// absl::InfiniteFuture() and absl::InfinitePast() saturate to the largest and smallest int64
// seconds with 0 nanos.
google::protobuf::Timestamp TimeToProto(absl::Time t);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_MATH_H_
