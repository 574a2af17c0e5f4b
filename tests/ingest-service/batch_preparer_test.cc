#include "ingest-service/batch_preparer.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/dead_letter_original.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/series_key.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "tests/ingest-service/test_events.h"

namespace streammetrics::ingest {
namespace {

using testing::Batch;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::optional<std::string> Header(const kafka::Record& r, absl::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(BatchPreparerTest, OneRecordPerEventValidOnesToEventsInvalidOnesToDeadLetters) {
  v1::MetricBatch batch = Batch(kNow, 7, 4, /*nan_at=*/2);
  const v1::MetricBatch original = batch;
  PreparedBatch p =
      PrepareBatch(batch, events::ValidationLimits{}, IngestTopics{}, "checkout-writer", kNow);
  ASSERT_EQ(p.records.size(), 4u);
  EXPECT_EQ(p.sequence, 7u);
  size_t bytes = 0;
  for (int i = 0; i < 4; ++i) {
    const kafka::Record& r = p.records[i];
    bytes += r.ByteSize();
    EXPECT_EQ(r.key, events::SeriesKey(original.events(i)));
    EXPECT_EQ(Header(r, kCallerHeader), "checkout-writer");
    auto key = events::DecodeHeaders(
        [&](absl::string_view n) { return events::LastHeader(r.headers, n); });
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(*key, (events::IdempotencyKey{"client-a", 7, static_cast<uint32_t>(i)}));
    if (i == 2) {
      EXPECT_EQ(r.topic, "metrics-dead-letter");
      EXPECT_EQ(Header(r, events::kHeaderContentType), std::string(events::kContentTypeDeadLetter));
      v1::DeadLetter dead;
      ASSERT_TRUE(dead.ParseFromString(r.value));
      EXPECT_EQ(dead.reason(), v1::DEAD_LETTER_REASON_NON_FINITE_VALUE);
      EXPECT_THAT(dead.detail(), ::testing::HasSubstr("value"));
      EXPECT_EQ(dead.source_service(), "ingest-service");
      EXPECT_EQ(dead.client_id(), "client-a");
      EXPECT_EQ(dead.caller(), "checkout-writer");
      EXPECT_EQ(dead.sequence(), 7u);
      EXPECT_EQ(dead.event_index(), 2u);
      v1::MetricEvent back;
      ASSERT_TRUE(back.ParseFromString(dead.original()));
      EXPECT_EQ(back.event_id(), "ev-2");
    } else {
      EXPECT_EQ(r.topic, "metrics-events");
      v1::MetricEvent back;
      ASSERT_TRUE(back.ParseFromString(r.value));
      EXPECT_EQ(back.event_id(), original.events(i).event_id());
      EXPECT_EQ(back.value(), original.events(i).value());
    }
  }
  EXPECT_EQ(p.bytes, bytes);
  ASSERT_EQ(p.rejections.size(), 1u);
  EXPECT_EQ(p.rejections[0].event_index(), 2u);
  EXPECT_EQ(p.rejections[0].batch_sequence(), 7u);
  EXPECT_EQ(p.rejections[0].event_id(), "ev-2");
  EXPECT_EQ(p.rejections[0].reason(), v1::DEAD_LETTER_REASON_NON_FINITE_VALUE);
}

TEST(BatchPreparerTest, DeadLetterWithoutSeriesPartsHasEmptyKey) {
  v1::MetricBatch batch = Batch(kNow, 1, 1);
  batch.mutable_events(0)->clear_service_id();
  PreparedBatch p =
      PrepareBatch(batch, events::ValidationLimits{}, IngestTopics{}, "anonymous", kNow);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].topic, "metrics-dead-letter");
  EXPECT_EQ(p.records[0].key, "");
}

TEST(BatchPreparerTest, TallySeparatesAcceptedRejectedAndFailed) {
  std::vector<v1::Rejection> rejections(2);
  rejections[0].set_event_index(1);
  rejections[1].set_event_index(3);
  std::vector<absl::Status> results = {absl::OkStatus(), absl::OkStatus(),
                                       absl::UnavailableError("timed out"), absl::OkStatus(),
                                       absl::UnavailableError("later")};
  BatchResult r = Tally(results, rejections);
  EXPECT_EQ(r.accepted, 1u);  // event 0 (events 2 and 4 failed)
  EXPECT_EQ(r.rejected, 2u);  // dead letters 1 and 3
  EXPECT_EQ(r.failed, 2u);
  EXPECT_EQ(r.first_failure.message(), "timed out");
}

TEST(BatchPreparerTest, TallyNamesAPermanentFailureFirst) {
  std::vector<absl::Status> results = {absl::UnavailableError("timed out"),
                                       absl::FailedPreconditionError("too large"),
                                       absl::FailedPreconditionError("too large again")};
  BatchResult r = Tally(results, {});
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(r.failed_permanently, 2u);
  EXPECT_EQ(r.first_failure.message(), "too large");
}

TEST(BatchPreparerTest, AHugeEventMakesADeadLetterThatFitsEveryTopic) {
  // 1.2 MB of metadata: refused (too large), and its dead letter keeps a 16 KiB prefix only.
  v1::MetricBatch batch = Batch(kNow, 1, 1);
  (*batch.mutable_events(0)->mutable_metadata())["blob"] = std::string(1'200'000, 'm');
  const std::string whole = batch.events(0).SerializeAsString();
  const events::ValidationLimits limits;
  PreparedBatch p = PrepareBatch(batch, limits, IngestTopics{}, "writer", kNow);
  ASSERT_EQ(p.records.size(), 1u);
  const kafka::Record& r = p.records[0];
  EXPECT_EQ(r.topic, "metrics-dead-letter");
  v1::DeadLetter dead;
  ASSERT_TRUE(dead.ParseFromString(r.value));
  EXPECT_EQ(dead.original_size(), whole.size());
  EXPECT_EQ(dead.original(), whole.substr(0, events::kDeadLetterOriginalBytes));
  EXPECT_EQ(dead.original_sha256().size(), 32u);
  EXPECT_LE(r.ByteSize() - kafka::Record::kOverheadBytes, LargestRecordBytes(limits));
}

TEST(BatchPreparerTest, ARecordOfTheLargestValidEventFitsTheStatedBound) {
  // A valid event just under the 16 KiB limit, its bytes in the tags so the series key is as
  // long as it can be.
  v1::MetricBatch batch = Batch(kNow, 1, 1);
  const events::ValidationLimits limits;
  auto& tags = *batch.mutable_events(0)->mutable_tags();
  for (int i = 0; tags.size() < limits.max_tags; ++i) {
    tags[absl::StrCat("k", i)] = std::string(limits.max_tag_value_length, 'v');
  }
  ASSERT_FALSE(events::ValidateEvent(batch.events(0), limits, kNow).has_value())
      << events::ValidateEvent(batch.events(0), limits, kNow)->message;
  PreparedBatch p = PrepareBatch(batch, limits, IngestTopics{}, "writer", kNow);
  ASSERT_EQ(p.records[0].topic, "metrics-events");
  EXPECT_LE(p.records[0].ByteSize() - kafka::Record::kOverheadBytes, LargestRecordBytes(limits));
}

}  // namespace
}  // namespace streammetrics::ingest
