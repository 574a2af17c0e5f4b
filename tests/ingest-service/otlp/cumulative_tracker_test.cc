// Tests of CumulativeTracker's bound: the least recently seen series is forgotten first, its next
// point is a baseline again, and evictions are counted. (Outcomes per point are tested through
// MapExport in otlp_mapper_test.cc.)
#include "ingest-service/otlp/cumulative_tracker.h"

#include "gtest/gtest.h"

namespace streammetrics::ingest::otlp {
namespace {

using Outcome = CumulativeTracker::Outcome;

TEST(CumulativeTrackerTest, ForgetsTheLeastRecentlySeenSeries) {
  CumulativeTracker t(2);
  const ContentId a{0, 1}, b{0, 2}, c{0, 3};
  EXPECT_EQ(t.Observe(a, {1, 10, 5}).outcome, Outcome::kBaseline);
  EXPECT_EQ(t.Observe(b, {1, 10, 5}).outcome, Outcome::kBaseline);
  EXPECT_EQ(t.Observe(a, {1, 11, 6}).outcome, Outcome::kDelta);     // a is now the most recent
  EXPECT_EQ(t.Observe(c, {1, 10, 5}).outcome, Outcome::kBaseline);  // b goes
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.evictions(), 1u);
  const CumulativeTracker::Result r = t.Observe(a, {1, 12, 9});
  EXPECT_EQ(r.outcome, Outcome::kDelta);
  EXPECT_EQ(r.delta, 3);
  EXPECT_EQ(t.Observe(b, {1, 11, 7}).outcome, Outcome::kBaseline);  // forgotten: a baseline again
  EXPECT_EQ(t.evictions(), 2u);
}

TEST(CumulativeTrackerTest, ARepeatAfterABaselineYieldsNothing) {
  CumulativeTracker t(1);
  const ContentId a{1, 1};
  EXPECT_EQ(t.Observe(a, {1, 10, 5}).outcome, Outcome::kBaseline);
  EXPECT_EQ(t.Observe(a, {1, 10, 5}).outcome, Outcome::kStale);
  EXPECT_EQ(t.Observe(a, {1, 11, 8}).outcome, Outcome::kDelta);
  EXPECT_EQ(t.Observe(a, {1, 11, 9}).outcome, Outcome::kStale);  // a conflicting copy
  const CumulativeTracker::Result r = t.Observe(a, {1, 11, 8});
  EXPECT_EQ(r.outcome, Outcome::kRepeat);
  EXPECT_EQ(r.delta, 3);
}

TEST(CumulativeTrackerTest, TheLastFewPointsYieldTheirDeltasAgainAfterLaterOnes) {
  CumulativeTracker t(1);
  const ContentId a{2, 2};
  EXPECT_EQ(t.Observe(a, {1, 10, 5}).outcome, Outcome::kBaseline);
  for (uint64_t time = 11; time <= 15; ++time) {
    EXPECT_EQ(t.Observe(a, {1, time, 5.0 + 2 * static_cast<double>(time - 10)}).outcome,
              Outcome::kDelta);
  }
  // An export of t12 whose record Kafka lost, resent after t13..t15 arrived: yielded again.
  for (uint64_t time : {12, 13, 14, 15}) {
    const CumulativeTracker::Result r = t.Observe(a, {1, time, 5.0 + 2 * (time - 10.0)});
    EXPECT_EQ(r.outcome, Outcome::kRepeat) << time;
    EXPECT_EQ(r.delta, 2) << time;
  }
  // Older than the kRemembered last points: ignored.
  EXPECT_EQ(t.Observe(a, {1, 11, 7}).outcome, Outcome::kStale);
  // A restart forgets the old life's points.
  EXPECT_EQ(t.Observe(a, {20, 21, 4}).outcome, Outcome::kRestart);
  EXPECT_EQ(t.Observe(a, {1, 15, 15}).outcome, Outcome::kStale);
  const CumulativeTracker::Result again = t.Observe(a, {20, 21, 4});
  EXPECT_EQ(again.outcome, Outcome::kRepeat);
  EXPECT_EQ(again.delta, 4);
}

TEST(CumulativeTrackerTest, ZeroMaxSeriesActsAsOne) {
  CumulativeTracker t(0);
  EXPECT_EQ(t.Observe({0, 1}, {1, 10, 5}).outcome, Outcome::kBaseline);
  EXPECT_EQ(t.size(), 1u);
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
