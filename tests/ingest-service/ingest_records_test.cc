// Tests of the ingest's records: an event's record carries its series key, its idempotency key
// and the caller; a dead letter carries the refusal, a bounded original with its type, and the
// same stamps.
#include "ingest-service/ingest_records.h"

#include <string>

#include "gtest/gtest.h"
#include "lib/events/dead_letter_original.h"
#include "lib/events/series_key.h"
#include "tests/ingest-service/test_events.h"

namespace streammetrics::ingest {
namespace {

const events::IdempotencyKey kKey{"client-7", 42, 3};

TEST(IngestRecordsTest, AnEventRecordIsKeyedAndStamped) {
  const v1::MetricBatch batch = testing::Batch(absl::FromUnixSeconds(1'800'000'000), 42, 1);
  const kafka::Record r = EventRecord(batch.events(0), kKey, IngestTopics{}, "alice");
  EXPECT_EQ(r.topic, "metrics-events");
  EXPECT_EQ(r.key, events::SeriesKey(batch.events(0)));
  EXPECT_EQ(r.value, batch.events(0).SerializeAsString());
  EXPECT_EQ(events::LastHeader(r.headers, events::kHeaderClientId), "client-7");
  EXPECT_EQ(events::LastHeader(r.headers, events::kHeaderSequence), "42");
  EXPECT_EQ(events::LastHeader(r.headers, events::kHeaderEventIndex), "3");
  EXPECT_EQ(events::LastHeader(r.headers, kCallerHeader), "alice");
}

TEST(IngestRecordsTest, ADeadLetterCarriesTheRefusalAndABoundedOriginal) {
  const std::string original(100'000, 'x');
  const Refusal refusal{v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT, "metric \"m\" is a Summary",
                        original, "opentelemetry.proto.metrics.v1.SummaryDataPoint", "key-1"};
  google::protobuf::Timestamp now;
  now.set_seconds(1'800'000'000);
  const kafka::Record r = DeadLetterRecord(refusal, kKey, IngestTopics{}, "alice", now);
  EXPECT_EQ(r.topic, "metrics-dead-letter");
  EXPECT_EQ(r.key, "key-1");
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(r.value));
  EXPECT_EQ(dl.reason(), v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT);
  EXPECT_EQ(dl.detail(), "metric \"m\" is a Summary");
  EXPECT_EQ(dl.source_service(), kSourceService);
  EXPECT_EQ(dl.original().size(), events::kDeadLetterOriginalBytes);
  EXPECT_EQ(dl.original_size(), original.size());
  EXPECT_EQ(dl.original_type(), "opentelemetry.proto.metrics.v1.SummaryDataPoint");
  EXPECT_EQ(dl.caller(), "alice");
  EXPECT_EQ(dl.client_id(), "client-7");
  EXPECT_EQ(dl.sequence(), 42u);
  EXPECT_EQ(dl.event_index(), 3u);
  EXPECT_EQ(dl.dead_lettered_at().seconds(), 1'800'000'000);
  EXPECT_EQ(events::LastHeader(r.headers, events::kHeaderContentType),
            events::kContentTypeDeadLetter);
  EXPECT_LE(r.value.size(), events::kDeadLetterMaxBytes);
}

}  // namespace
}  // namespace streammetrics::ingest
