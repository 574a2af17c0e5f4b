// The streammetrics-aggregation binary on the real stack: a known data set in (with resent
// batches and undecodable records), exact final windows out, whatever happens meanwhile: SIGKILL
// at five moments, two instances sharing the partitions with one killed, PostgreSQL restarted.
#include <signal.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "tests/integration/aggregation_harness.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {
namespace {

using ::testing::IsEmpty;

constexpr absl::Duration kDeadline = absl::Seconds(180);

bool AllFinal(const AggregationDataSet& data) {
  return PollUntil(kDeadline, [&] { return data.FinalRows() == data.ExpectedWindows(); });
}

std::string Group(const AggregationDataSet& data) { return "group-" + data.service_id(); }

// A killed member holds its partitions until its session times out; 6 s (the broker's minimum)
// instead of 45 s keeps the restarts quick.
const std::vector<std::string> kFlags = {
    "--idle_after=1s",
    "--kafka_consumer_properties=session.timeout.ms=6000,heartbeat.interval.ms=500"};

TEST(AggregationBinaryTest, KnownDataSetGivesExactWindowsAndResendsCountOnce) {
  ScopedTopic events("it-agg-events", 6), dead("it-agg-dead", 3);
  ASSERT_TRUE(events.ok() && dead.ok());
  AggregationDataSet data(60000, 40, absl::Minutes(10), /*resend_every=*/7);
  ASSERT_TRUE(data.Produce(events.name(), /*prefix_junk=*/3).ok());

  AggregatorChild aggregator(events.name(), Group(data),
                             {"--dead_letter_topic=" + dead.name(), "--idle_after=1s"});
  ASSERT_TRUE(AllFinal(data)) << data.FinalRows() << " of " << data.ExpectedWindows()
                              << " windows final";
  EXPECT_THAT(data.Verify(), IsEmpty());
  EXPECT_EQ(CommittedRecords(Group(data)), data.records() + 3);

  std::vector<ConsumedRecord> dead_letters = ConsumeAll(dead.name(), 3);
  ASSERT_EQ(dead_letters.size(), 3u);
  for (const ConsumedRecord& r : dead_letters) {
    v1::DeadLetter dl;
    ASSERT_TRUE(dl.ParseFromString(r.value));
    EXPECT_EQ(dl.reason(), v1::DEAD_LETTER_REASON_UNDECODABLE);
    EXPECT_EQ(dl.source_topic(), events.name());
    EXPECT_EQ(dl.source_service(), "aggregation-service");
  }
  EXPECT_EQ(aggregator.Stop(SIGTERM), 0);
}

TEST(AggregationBinaryTest, SigkillAtFiveMomentsChangesNoFinalNumber) {
  ScopedTopic events("it-agg-kill", 6);
  ASSERT_TRUE(events.ok());
  AggregationDataSet data(300000, 40, absl::Minutes(10), /*resend_every=*/5);
  ASSERT_TRUE(data.Produce(events.name()).ok());

  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE(absl::StrCat("kill points seeded with ", seed));
  for (int k = 0; k < 5; ++k) {
    std::uniform_int_distribution<int64_t> at(data.records() * k / 6, data.records() * (k + 1) / 6);
    const int64_t threshold = at(rng);
    AggregatorChild aggregator(events.name(), Group(data), kFlags);
    ASSERT_TRUE(PollUntil(kDeadline, [&] { return CommittedRecords(Group(data)) >= threshold; }))
        << "no progress past " << threshold;
    EXPECT_EQ(aggregator.Stop(SIGKILL), 128 + SIGKILL);
  }
  AggregatorChild aggregator(events.name(), Group(data), kFlags);
  ASSERT_TRUE(AllFinal(data)) << data.FinalRows() << " of " << data.ExpectedWindows();
  EXPECT_THAT(data.Verify(), IsEmpty());
  EXPECT_EQ(CommittedRecords(Group(data)), data.records());
  EXPECT_EQ(aggregator.Stop(SIGTERM), 0);
}

TEST(AggregationBinaryTest, TwoInstancesShareThePartitionsAndOneIsKilled) {
  ScopedTopic events("it-agg-two", 6);
  ASSERT_TRUE(events.ok());
  AggregationDataSet data(200000, 40, absl::Minutes(10), /*resend_every=*/5);
  ASSERT_TRUE(data.Produce(events.name()).ok());
  AggregatorChild first(events.name(), Group(data), kFlags);
  AggregatorChild second(events.name(), Group(data), kFlags);
  ASSERT_TRUE(
      PollUntil(kDeadline, [&] { return CommittedRecords(Group(data)) >= data.records() / 5; }));
  EXPECT_EQ(first.Stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(AllFinal(data)) << data.FinalRows() << " of " << data.ExpectedWindows();
  EXPECT_THAT(data.Verify(), IsEmpty());
  EXPECT_EQ(CommittedRecords(Group(data)), data.records());
  EXPECT_EQ(second.Stop(SIGTERM), 0);
}

TEST(AggregationBinaryFaultTest, PostgresRestartMidRunChangesNoFinalNumber) {
  ScopedTopic events("it-agg-pg", 6);
  ASSERT_TRUE(events.ok());
  AggregationDataSet data(200000, 40, absl::Minutes(10), /*resend_every=*/5);
  ASSERT_TRUE(data.Produce(events.name()).ok());
  AggregatorChild aggregator(events.name(), Group(data), kFlags);
  ASSERT_TRUE(
      PollUntil(kDeadline, [&] { return CommittedRecords(Group(data)) >= data.records() / 5; }));
  ASSERT_TRUE(PostgresControl("restart").ok());
  ASSERT_TRUE(AllFinal(data)) << data.FinalRows() << " of " << data.ExpectedWindows();
  EXPECT_THAT(data.Verify(), IsEmpty());
  EXPECT_EQ(CommittedRecords(Group(data)), data.records());
  EXPECT_EQ(aggregator.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace streammetrics::testing
