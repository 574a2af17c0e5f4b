// Scale-out on one machine: two ingest instances share the load generator's streams, three
// aggregation instances share the events topic's six partitions in one consumer group; one
// aggregator is killed with SIGKILL and another added while the load goes on, and every window
// QueryService returns still equals the ledger. How fast each instance goes is docs/scaling.md's
// subject, not this test's.
#include <signal.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pipeline_fixture.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {
namespace {

// Partitions of the events topic the aggregation instance owns now (-1 when it does not answer):
// ownership, not records read, since a member may be given partitions whose load has ended.
double Owned(const AggregatorChild& a) {
  return MetricValue(ScrapeMetrics(a.metrics_address()),
                     "streammetrics_aggregation_assigned_partitions");
}

double Consumed(const AggregatorChild& a) {
  return MetricValue(ScrapeMetrics(a.metrics_address()),
                     "streammetrics_aggregation_records_consumed_total");
}

double Accepted(const IngestChild& i) {
  return MetricValue(ScrapeMetrics(i.metrics_address()),
                     "streammetrics_ingest_events_accepted_total");
}

class ScaleOutPipelineTest : public PipelineTest {
 protected:
  void TearDown() override {
    for (std::unique_ptr<AggregatorChild>* a : {&second_, &third_, &newcomer_}) {
      if (*a != nullptr && (*a)->running()) {
        EXPECT_EQ((*a)->Stop(SIGTERM), 0);
      }
    }
    if (ingest2_ != nullptr) {
      EXPECT_EQ(ingest2_->Stop(SIGTERM), 0);
    }
    PipelineTest::TearDown();
  }

  std::unique_ptr<IngestChild> ingest2_;
  std::unique_ptr<AggregatorChild> second_;
  std::unique_ptr<AggregatorChild> third_;
  std::unique_ptr<AggregatorChild> newcomer_;
};

TEST_F(ScaleOutPipelineTest, TwoIngestsThreeAggregatorsOneKilledOneAddedCountEverythingOnce) {
  ASSERT_NO_FATAL_FAILURE(StartIngest(&ingest2_));
  const std::string both = ingest_->address() + "," + ingest2_->address();
  // 60 s of load: time enough for three members to share the partitions, one to die and its
  // partitions to move on, and a fourth to join and take some over.
  ASSERT_NO_FATAL_FAILURE(RunLoad(Load(300'000, 5'000, both), [&](loadgen::LoadRunner&) {
    ASSERT_NO_FATAL_FAILURE(StartAggregator(&second_));
    ASSERT_NO_FATAL_FAILURE(StartAggregator(&third_));
    // The group spreads the six partitions over the three members.
    ASSERT_TRUE(PollUntil(kStep, [&] {
      return Owned(*aggregator_) > 0 && Owned(*second_) > 0 && Owned(*third_) > 0;
    })) << "a member of three got no partition";
    // Killed while it counts, with windows of its partitions open.
    const double second_before_kill = Consumed(*second_);
    ASSERT_TRUE(PollUntil(kStep, [&] { return Consumed(*second_) > second_before_kill; }))
        << "the member to be killed consumed nothing";
    EXPECT_EQ(second_->Stop(SIGKILL), 128 + SIGKILL);
    ASSERT_NO_FATAL_FAILURE(StartAggregator(&newcomer_));
    // The newcomer takes partitions over: the killed member's, or some of the others'.
    ASSERT_TRUE(PollUntil(kStep, [&] { return Owned(*newcomer_) > 0; }))
        << "the member added mid-run got no partition";
  }));
  // Both ingest instances took their share of the streams.
  EXPECT_GT(Accepted(*ingest_), 0);
  EXPECT_GT(Accepted(*ingest2_), 0);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryWindowExact());
}

}  // namespace
}  // namespace streammetrics::testing
