// EventMaker: valid and deliberately invalid events from the catalog (see the header).
#include "tools/loadgen/event_maker.h"

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace streammetrics::loadgen {
EventMaker::EventMaker(const SeriesCatalog* catalog, const ValueDistribution* values,
                       const std::string& run_id, int stream, uint64_t seed,
                       double invalid_fraction)
    : catalog_(catalog),
      values_(values),
      id_prefix_(absl::StrCat("-", stream, "-")),
      instance_id_(absl::StrCat(run_id, "-stream-", stream)),
      rng_(seed * 1'000'003 + static_cast<uint64_t>(stream)),
      pick_series_(0, catalog->size() - 1),
      pick_invalid_(invalid_fraction) {}

v1::MetricEvent EventMaker::Make(absl::Time timestamp) {
  const size_t series = pick_series_(rng_);
  v1::MetricEvent event = catalog_->series(series);
  const bool invalid = pick_invalid_(rng_);
  event.set_event_id(absl::StrCat(invalid ? "x" : "e", id_prefix_, made_++, "@", series));
  *event.mutable_timestamp() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(timestamp));
  event.set_instance_id(instance_id_);
  event.set_value(values_->Draw(rng_));
  if (invalid) Break(event);
  return event;
}

void EventMaker::Break(v1::MetricEvent& event) {
  switch (static_cast<InvalidKind>(broken_++ % kInvalidKinds)) {
    case InvalidKind::kNanValue:
      event.set_value(std::numeric_limits<double>::quiet_NaN());
      break;
    case InvalidKind::kNegativeValue:
      event.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
      event.set_value(-1);
      break;
    case InvalidKind::kEmptyService:
      event.set_service_id("");
      break;
    case InvalidKind::kUnknownType:
      event.set_metric_type(static_cast<v1::MetricType>(999));
      break;
    case InvalidKind::kFutureTimestamp:
      event.mutable_timestamp()->set_seconds(event.timestamp().seconds() + 3600);
      break;
  }
}

bool EventMaker::IsDeliberatelyInvalid(const v1::MetricEvent& event) {
  return absl::StartsWith(event.event_id(), "x-");
}

std::optional<size_t> EventMaker::SeriesIndexOf(const v1::MetricEvent& event) {
  const absl::string_view id = event.event_id();
  const size_t at = id.rfind('@');
  size_t index = 0;
  if (at == absl::string_view::npos || !absl::SimpleAtoi(id.substr(at + 1), &index)) {
    return std::nullopt;
  }
  return index;
}

}  // namespace streammetrics::loadgen
