// RecordDecoder: the aggregation service's second look at every record (see the header).
#include "aggregation-service/consume/record_decoder.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "lib/events/dead_letter_original.h"
#include "lib/events/series_key.h"

namespace streammetrics::aggregation {
namespace {

// A key as a dead letter's detail shows it: escaped, and cut after 200 bytes so a foreign
// producer's huge key cannot make the dead letter too large for its topic.
std::string Shown(absl::string_view key) {
  constexpr size_t kShown = 200;
  if (key.size() <= kShown) return absl::CHexEscape(key);
  return absl::StrCat(absl::CHexEscape(key.substr(0, kShown)), "... (", key.size(), " bytes)");
}

}  // namespace

RecordDecoder::RecordDecoder(std::string topic, events::ValidationLimits limits)
    : topic_(std::move(topic)), limits_(limits) {
  limits_.max_age = absl::InfiniteDuration();
}

v1::DeadLetter RecordDecoder::Base(const SourceRecord& record, v1::DeadLetterReason reason,
                                   std::string detail, absl::Time now) const {
  v1::DeadLetter dl;
  dl.set_reason(reason);
  dl.set_detail(std::move(detail));
  dl.set_source_service(kAggregationServiceName);
  events::SetOriginal(record.value, &dl);
  *dl.mutable_dead_lettered_at() = TimeToProto(now);
  dl.set_source_topic(topic_);
  dl.set_source_partition(record.partition);
  dl.set_source_offset(record.offset);
  return dl;
}

std::optional<v1::DeadLetter> RecordDecoder::Decode(const SourceRecord& record, absl::Time now,
                                                    DecodedRecord* out) const {
  v1::MetricEvent& event = out->event;
  if (!event.ParseFromArray(record.value.data(), static_cast<int>(record.value.size()))) {
    return Base(record, v1::DEAD_LETTER_REASON_UNDECODABLE,
                absl::StrCat("the record value (", record.value.size(),
                             " bytes) is not a streammetrics.v1.MetricEvent"),
                now);
  }
  if (absl::Status key = events::DecodeHeaders(
          [&record](absl::string_view name) { return record.Header(name); }, &out->key);
      !key.ok()) {
    return Base(
        record, v1::DEAD_LETTER_REASON_MISSING_IDEMPOTENCY_KEY,
        absl::StrCat("no usable idempotency key, so the event could not be counted exactly once: ",
                     key.message()),
        now);
  }
  auto with_key = [&](v1::DeadLetter dl) {
    dl.set_client_id(out->key.client_id);
    dl.set_sequence(out->key.sequence);
    dl.set_event_index(out->key.event_index);
    return dl;
  };
  if (std::optional<events::EventViolation> violation =
          events::ValidateEvent(event, limits_, now)) {
    return with_key(Base(record, violation->reason, violation->message, now));
  }
  events::SeriesKey(event, &out->series_key);
  if (out->series_key != record.key) {
    return with_key(Base(record, v1::DEAD_LETTER_REASON_KEY_MISMATCH,
                         absl::StrCat("the record key \"", Shown(record.key),
                                      "\" is not the event's series key \"", Shown(out->series_key),
                                      "\"; producers must key events by series (docs/contract.md)"),
                         now));
  }
  return std::nullopt;
}

v1::DeadLetter RecordDecoder::Late(const SourceRecord& record, const events::IdempotencyKey& key,
                                   absl::Time event_time, absl::Time watermark,
                                   absl::Time now) const {
  const absl::Time window_end = WindowStart(event_time, absl::Minutes(1)) + absl::Minutes(1);
  v1::DeadLetter dl =
      Base(record, v1::DEAD_LETTER_REASON_LATE_EVENT,
           absl::StrCat("the event's 1-minute window ended at ",
                        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", window_end, absl::UTCTimeZone()),
                        ", already final (watermark ",
                        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", watermark, absl::UTCTimeZone()),
                        "); it was not counted"),
           now);
  dl.set_client_id(key.client_id);
  dl.set_sequence(key.sequence);
  dl.set_event_index(key.event_index);
  return dl;
}

v1::DeadLetter RecordDecoder::Overflow(const SourceRecord& record,
                                       const events::IdempotencyKey& key, uint64_t count,
                                       absl::Time now) const {
  v1::DeadLetter dl = Base(record, v1::DEAD_LETTER_REASON_VALUE_OUT_OF_RANGE,
                           absl::StrCat("the distribution's ", count,
                                        " values would take its 1-minute window past 2^60 "
                                        "values; it was not counted"),
                           now);
  dl.set_client_id(key.client_id);
  dl.set_sequence(key.sequence);
  dl.set_event_index(key.event_index);
  return dl;
}

}  // namespace streammetrics::aggregation
