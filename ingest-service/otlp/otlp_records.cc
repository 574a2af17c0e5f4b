// OTLP records (contract in otlp_records.h).
#include "ingest-service/otlp/otlp_records.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/events/dead_letter_original.h"
#include "lib/events/series_key.h"

namespace streammetrics::ingest::otlp {

PreparedExport PrepareExport(MappedExport& mapped, const events::ValidationLimits& limits,
                             const IngestTopics& topics, absl::string_view caller, absl::Time now) {
  PreparedExport out;
  out.records.reserve(mapped.events.size() + mapped.rejections.size());
  const google::protobuf::Timestamp now_proto =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  auto add_rejection = [&out](v1::DeadLetterReason reason, std::string message,
                              const std::string& event_id) {
    v1::Rejection& r = out.rejections.emplace_back();
    r.set_event_index(static_cast<uint32_t>(out.records.size() - 1));
    r.set_event_id(event_id);
    r.set_reason(reason);
    r.set_message(std::move(message));
  };
  for (PointRejection& p : mapped.rejections) {
    // No series key: the point never became an event, so a key would be a guess.
    const Refusal refusal{p.reason, p.message, p.original, p.original_type, ""};
    out.records.push_back(DeadLetterRecord(refusal, p.key, topics, caller, now_proto));
    out.bytes += out.records.back().ByteSize();
    add_rejection(p.reason, std::move(p.message), "");
  }
  for (MappedEvent& e : mapped.events) {
    std::optional<events::EventViolation> violation = events::ValidateEvent(e.event, limits, now);
    if (!violation) {
      out.records.push_back(EventRecord(e.event, e.key, topics, caller));
    } else {
      const std::string original = e.event.SerializeAsString();
      Refusal refusal{violation->reason,
                      absl::StrCat(QuotedMetric(e.event.metric_name()), ": ", violation->message),
                      original, "", ""};
      if (!e.event.service_id().empty() && !e.event.metric_name().empty()) {
        refusal.record_key = events::DeadLetterKey(events::SeriesKey(e.event));
      }
      out.records.push_back(DeadLetterRecord(refusal, e.key, topics, caller, now_proto));
      add_rejection(violation->reason, std::move(refusal.detail), e.event.event_id());
    }
    out.bytes += out.records.back().ByteSize();
  }
  return out;
}

}  // namespace streammetrics::ingest::otlp
