// The ingest service's records (see ingest_records.h).
#include "ingest-service/ingest_records.h"

#include "lib/events/dead_letter_original.h"
#include "lib/events/series_key.h"

namespace streammetrics::ingest {

kafka::Record EventRecord(const v1::MetricEvent& event, const events::IdempotencyKey& key,
                          const IngestTopics& topics, absl::string_view caller) {
  kafka::Record record;
  record.topic = topics.events;
  record.key = events::SeriesKey(event);
  record.value = event.SerializeAsString();
  record.headers = events::EncodeHeaders(key, events::kContentTypeMetricEvent);
  record.headers.emplace_back(kCallerHeader, std::string(caller));
  return record;
}

kafka::Record DeadLetterRecord(const Refusal& refusal, const events::IdempotencyKey& key,
                               const IngestTopics& topics, absl::string_view caller,
                               const google::protobuf::Timestamp& now) {
  v1::DeadLetter dead;
  dead.set_reason(refusal.reason);
  dead.set_detail(refusal.detail);
  dead.set_source_service(kSourceService);
  events::SetOriginal(refusal.original, &dead);
  dead.set_original_type(std::string(refusal.original_type));
  dead.set_client_id(key.client_id);
  dead.set_caller(std::string(caller));
  dead.set_sequence(key.sequence);
  dead.set_event_index(key.event_index);
  *dead.mutable_dead_lettered_at() = now;
  kafka::Record record;
  record.topic = topics.dead_letter;
  record.key = refusal.record_key;
  record.value = dead.SerializeAsString();
  record.headers = events::EncodeHeaders(key, events::kContentTypeDeadLetter);
  record.headers.emplace_back(kCallerHeader, std::string(caller));
  return record;
}

}  // namespace streammetrics::ingest
