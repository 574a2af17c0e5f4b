// AggregationProcess in-process on the real stack: a Stop in the middle of a run checkpoints and
// leaves the group, and a second process of the same group resumes from what the first committed,
// so every final window is exact; a part that cannot start (PostgreSQL unreachable) stops the
// start with a reason and leaves nothing running.
#include "aggregation-service/aggregation_process.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/aggregation_harness.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::testing::AggregationDataSet;
using ::streammetrics::testing::CommittedRecords;
using ::streammetrics::testing::PollUntil;
using ::testing::IsEmpty;

constexpr absl::Duration kDeadline = absl::Seconds(180);

// The configuration the binary would load from these flags.
AggregationConfig Config(const std::string& topic, const std::string& group,
                         const std::string& pg_url = streammetrics::testing::PostgresUrl()) {
  const std::vector<std::string> args = {
      "streammetrics-aggregation", "--query_address=127.0.0.1:0",
      absl::StrCat("--aggregation_metrics_address=127.0.0.1:", streammetrics::testing::FreePort()),
      "--kafka_bootstrap=" + streammetrics::testing::KafkaBootstrap(), "--pg_url=" + pg_url,
      "--events_topic=" + topic, "--consumer_group=" + group, "--checkpoint_interval=200ms",
      "--idle_after=1s",
      // Windows at fixed dates in a shared database: never purged by retention here.
      "--retention_1m=inf", "--retention_5m=inf",
      "--kafka_consumer_properties=session.timeout.ms=6000,heartbeat.interval.ms=500"};
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  absl::StatusOr<AggregationConfig> config =
      LoadAggregationConfig(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : AggregationConfig{};
}

TEST(AggregationProcessTest, StopMidRunThenANewProcessResumesAndEveryWindowIsExact) {
  streammetrics::testing::ScopedTopic events("it-agg-process", 6);
  ASSERT_TRUE(events.ok()) << events.status();
  AggregationDataSet data(100000, 20, absl::Minutes(10), /*resend_every=*/5);
  ASSERT_TRUE(data.Produce(events.name()).ok());
  const std::string group = "group-" + data.service_id();

  {
    absl::StatusOr<std::unique_ptr<AggregationProcess>> first =
        AggregationProcess::Start(Config(events.name(), group));
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_GT((*first)->query_port(), 0);
    ASSERT_TRUE(PollUntil(kDeadline, [&] {
      EXPECT_TRUE((*first)->Supervise()) << "the consume loop ended by itself";
      return CommittedRecords(group) >= data.records() / 3;
    }));
    EXPECT_TRUE((*first)->Stop().ok());
    EXPECT_TRUE((*first)->Stop().ok()) << "Stop is idempotent";
  }
  absl::StatusOr<std::unique_ptr<AggregationProcess>> second =
      AggregationProcess::Start(Config(events.name(), group));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(PollUntil(kDeadline, [&] { return data.FinalRows() == data.ExpectedWindows(); }))
      << data.FinalRows() << " of " << data.ExpectedWindows() << " windows final";
  EXPECT_THAT(data.Verify(), IsEmpty());
  EXPECT_EQ(CommittedRecords(group), data.records());
  EXPECT_TRUE((*second)->Stop().ok());
}

TEST(AggregationProcessTest, AnUnreachablePostgresStopsTheStartWithAReason) {
  streammetrics::testing::ScopedTopic events("it-agg-process-pg", 6);
  ASSERT_TRUE(events.ok()) << events.status();
  const int closed_port = streammetrics::testing::FreePort();
  absl::StatusOr<std::unique_ptr<AggregationProcess>> process = AggregationProcess::Start(
      Config(events.name(), "group-unreachable-pg",
             absl::StrCat("postgresql://streammetrics@127.0.0.1:", closed_port, "/streammetrics")));
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().code(), absl::StatusCode::kUnavailable) << process.status();
  EXPECT_THAT(std::string(process.status().message()), ::testing::HasSubstr("PostgreSQL"));
}

}  // namespace
}  // namespace streammetrics::aggregation
