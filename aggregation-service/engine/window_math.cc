// Window arithmetic: see window_math.h.
#include "aggregation-service/engine/window_math.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace streammetrics::aggregation {

absl::Duration WindowLength(v1::WindowSize size) {
  switch (size) {
    case v1::WINDOW_SIZE_1M:
      return absl::Minutes(1);
    case v1::WINDOW_SIZE_5M:
      return absl::Minutes(5);
    default:
      return absl::ZeroDuration();
  }
}

absl::Time WindowStart(absl::Time t, absl::Duration length) {
  if (length <= absl::ZeroDuration() || t == absl::InfiniteFuture() || t == absl::InfinitePast()) {
    return t;
  }
  // absl::Floor rounds toward negative infinity, which keeps pre-1970 windows aligned too.
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), length);
}

absl::string_view WindowSizeName(v1::WindowSize size) {
  switch (size) {
    case v1::WINDOW_SIZE_1M:
      return "1m";
    case v1::WINDOW_SIZE_5M:
      return "5m";
    default:
      return "";
  }
}

absl::StatusOr<v1::WindowSize> ParseWindowSizeName(absl::string_view name) {
  if (name == "1m") return v1::WINDOW_SIZE_1M;
  if (name == "5m") return v1::WINDOW_SIZE_5M;
  return absl::InvalidArgumentError(
      absl::StrCat("window size \"", name, "\" is neither \"1m\" nor \"5m\""));
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& proto) {
  return absl::FromUnixSeconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}

google::protobuf::Timestamp TimeToProto(absl::Time t) {
  google::protobuf::Timestamp proto;
  if (t == absl::InfiniteFuture()) {
    proto.set_seconds(std::numeric_limits<int64_t>::max());
    return proto;
  }
  if (t == absl::InfinitePast()) {
    proto.set_seconds(std::numeric_limits<int64_t>::min());
    return proto;
  }
  // ToUnixSeconds floors, so the remainder is in [0, 1 s): truncating it to whole nanoseconds
  // rounds down, and nanos is never negative.
  const int64_t seconds = absl::ToUnixSeconds(t);
  proto.set_seconds(seconds);
  proto.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return proto;
}

}  // namespace streammetrics::aggregation
