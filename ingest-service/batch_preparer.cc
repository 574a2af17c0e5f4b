#include "ingest-service/batch_preparer.h"

#include <algorithm>

#include "google/protobuf/util/time_util.h"
#include "lib/events/dead_letter_original.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/series_key.h"
#include "streammetrics/v1/dead_letter.pb.h"

namespace streammetrics::ingest {

PreparedBatch PrepareBatch(v1::MetricBatch& batch, const events::ValidationLimits& limits,
                           const IngestTopics& topics, absl::string_view caller, absl::Time now) {
  PreparedBatch out;
  out.sequence = batch.sequence();
  out.records.reserve(static_cast<size_t>(batch.events_size()));
  const google::protobuf::Timestamp now_proto =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  for (int i = 0; i < batch.events_size(); ++i) {
    v1::MetricEvent& event = *batch.mutable_events(i);
    const events::IdempotencyKey key{batch.client_id(), batch.sequence(), static_cast<uint32_t>(i)};
    std::optional<events::EventViolation> violation = events::ValidateEvent(event, limits, now);
    if (!violation) {
      out.records.push_back(EventRecord(event, key, topics, caller));
    } else {
      const std::string original = event.SerializeAsString();
      Refusal refusal{violation->reason, violation->message, original, "", ""};
      // A series key only when its parts are usable and it is not too long; an empty key spreads
      // such records randomly.
      if (!event.service_id().empty() && !event.metric_name().empty()) {
        refusal.record_key = events::DeadLetterKey(events::SeriesKey(event));
      }
      out.records.push_back(DeadLetterRecord(refusal, key, topics, caller, now_proto));

      v1::Rejection& rejection = out.rejections.emplace_back();
      rejection.set_batch_sequence(key.sequence);
      rejection.set_event_index(key.event_index);
      rejection.set_event_id(event.event_id());
      rejection.set_reason(violation->reason);
      rejection.set_message(std::move(violation->message));
    }
    out.bytes += out.records.back().ByteSize();
  }
  return out;
}

size_t LargestRecordBytes(const events::ValidationLimits& limits) {
  // Headers: client id (at most 128 bytes), sequence, index, content type and the caller's name
  // (a token's name is at most 64 bytes; a certificate's is rarely longer), with room to spare.
  constexpr size_t kHeaders = 2 << 10;
  return std::max(2 * limits.max_event_bytes,
                  events::kDeadLetterMaxBytes + events::kDeadLetterKeyBytes) +
         kHeaders;
}

BatchResult Tally(const std::vector<absl::Status>& results,
                  const std::vector<v1::Rejection>& rejections) {
  BatchResult r;
  size_t next_rejection = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const bool dead_letter =
        next_rejection < rejections.size() && rejections[next_rejection].event_index() == i;
    if (dead_letter) ++next_rejection;
    if (!results[i].ok()) {
      ++r.failed;
      const bool permanent = absl::IsFailedPrecondition(results[i]);
      if (r.first_failure.ok() || (permanent && r.failed_permanently == 0)) {
        r.first_failure = results[i];
      }
      r.failed_permanently += permanent ? 1 : 0;
    } else if (dead_letter) {
      ++r.rejected;
    } else {
      ++r.accepted;
    }
  }
  return r;
}

}  // namespace streammetrics::ingest
