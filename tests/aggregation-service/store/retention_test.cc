// Tests of the retention rule: settings, day arithmetic, partition names, the plan that creates
// days ahead and drops days past the retention (checked hour by hour over months against its
// invariants), and where an answer over a range begins.
#include "aggregation-service/store/retention.h"

#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kDay = absl::Hours(24);
constexpr v1::WindowSize kSizes[] = {v1::WINDOW_SIZE_1M, v1::WINDOW_SIZE_5M};

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(ValidateRetentionTest, DefaultsAndForeverAreAccepted) {
  RetentionPolicy policy;
  EXPECT_TRUE(ValidateRetention(policy).ok());
  EXPECT_EQ(policy.keep_1m, 14 * kDay);
  EXPECT_EQ(policy.keep_5m, 90 * kDay);
  policy.keep_1m = absl::InfiniteDuration();
  policy.keep_5m = absl::InfiniteDuration();
  EXPECT_TRUE(ValidateRetention(policy).ok());
  policy.keep_1m = kMinimumRetention;
  policy.create_behind = absl::ZeroDuration();
  policy.create_ahead = kDay;
  EXPECT_TRUE(ValidateRetention(policy).ok());
}

TEST(ValidateRetentionTest, RefusesWhatWouldDropLiveWindowsNamingTheFlag) {
  RetentionPolicy policy;
  policy.keep_1m = absl::Hours(47);
  absl::Status s = ValidateRetention(policy);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--retention_1m=47h"));
  EXPECT_THAT(s.message(), HasSubstr("48h"));
  policy = {};
  policy.keep_5m = absl::ZeroDuration();
  EXPECT_THAT(ValidateRetention(policy).message(), HasSubstr("--retention_5m=0"));
  policy = {};
  policy.create_ahead = absl::Hours(23);
  EXPECT_THAT(ValidateRetention(policy).message(), HasSubstr("--partitions_ahead"));
  policy = {};
  policy.create_behind = -absl::Seconds(1);
  EXPECT_THAT(ValidateRetention(policy).message(), HasSubstr("--partitions_behind"));
  policy = {};
  policy.create_ahead = absl::InfiniteDuration();
  EXPECT_FALSE(ValidateRetention(policy).ok());
}

TEST(DayStartTest, FloorsToUtcMidnight) {
  EXPECT_EQ(DayStart(Utc(2026, 12, 5)), Utc(2026, 12, 5));
  EXPECT_EQ(DayStart(Utc(2026, 12, 5, 23, 59, 59)), Utc(2026, 12, 5));
  EXPECT_EQ(DayStart(Utc(2026, 12, 5) - absl::Nanoseconds(1)), Utc(2026, 12, 4));
  EXPECT_EQ(DayStart(Utc(1969, 12, 31, 12)), Utc(1969, 12, 31));
  EXPECT_EQ(DayStart(absl::InfinitePast()), absl::InfinitePast());
  EXPECT_EQ(DayStart(absl::InfiniteFuture()), absl::InfiniteFuture());
}

TEST(RetainedFromTest, IsTheDayOfNowMinusTheRetention) {
  RetentionPolicy policy;
  const absl::Time now = Utc(2026, 12, 5, 12, 30);
  EXPECT_EQ(RetainedFrom(policy, v1::WINDOW_SIZE_1M, now), Utc(2026, 11, 21));
  EXPECT_EQ(RetainedFrom(policy, v1::WINDOW_SIZE_5M, now), Utc(2026, 9, 6));
  policy.keep_1m = absl::InfiniteDuration();
  EXPECT_EQ(RetainedFrom(policy, v1::WINDOW_SIZE_1M, now), absl::InfinitePast());
}

TEST(PartitionNameTest, RoundTripsEveryDayOfFourYears) {
  for (absl::Time day = Utc(2024, 1, 1); day < Utc(2028, 1, 1); day += kDay) {
    for (v1::WindowSize size : kSizes) {
      const DayPartition p{size, day};
      std::optional<DayPartition> parsed = ParsePartitionName(PartitionName(p));
      ASSERT_TRUE(parsed.has_value()) << PartitionName(p);
      EXPECT_EQ(*parsed, p);
    }
  }
  EXPECT_EQ(PartitionName({v1::WINDOW_SIZE_5M, Utc(2026, 2, 28)}), "metric_aggregates_5m_20260228");
  EXPECT_EQ(SizeTableName(v1::WINDOW_SIZE_1M), "metric_aggregates_1m");
  EXPECT_EQ(DefaultPartitionName(v1::WINDOW_SIZE_5M), "metric_aggregates_5m_default");
}

TEST(PartitionNameTest, IgnoresNamesItWouldNotWrite) {
  for (absl::string_view name :
       {"metric_aggregates_1m_default", "metric_aggregates_1m", "metric_aggregates",
        "metric_aggregates_15m_20261205", "metric_aggregates_1h_20261205",
        "metric_aggregates_1m_2026120", "metric_aggregates_1m_202612055",
        "metric_aggregates_1m_2026120x", "metric_aggregates_1m_20260230",
        "metric_aggregates_1m_20261301", "metric_aggregates_1m-20261205",
        "x_metric_aggregates_1m_20261205", "metric_aggregates_1m_+2026120", ""}) {
    EXPECT_FALSE(ParsePartitionName(name).has_value()) << name;
  }
}

TEST(PlanPartitionsTest, AFreshTableGetsTheDaysBehindAndAheadAndNothingDropped) {
  const RetentionPolicy policy;
  const absl::Time now = Utc(2026, 12, 5, 12);
  PartitionPlan plan = PlanPartitions(policy, now, {});
  std::vector<DayPartition> want;
  for (v1::WindowSize size : kSizes) {
    for (absl::Time d = Utc(2026, 11, 27); d <= Utc(2026, 12, 8); d += kDay)
      want.push_back({size, d});
  }
  EXPECT_EQ(plan.create, want);
  EXPECT_THAT(plan.drop, IsEmpty());
  EXPECT_EQ(plan.purge_1m_before, Utc(2026, 11, 21));
  EXPECT_EQ(plan.purge_5m_before, Utc(2026, 9, 6));
}

TEST(PlanPartitionsTest, DropsExactlyTheDaysBeforeTheRetainedDay) {
  const RetentionPolicy policy;
  const absl::Time now = Utc(2026, 12, 5, 12);
  std::vector<DayPartition> existing;
  for (absl::Time d = Utc(2026, 8, 1); d <= Utc(2026, 12, 8); d += kDay) {
    for (v1::WindowSize size : kSizes) existing.push_back({size, d});
  }
  PartitionPlan plan = PlanPartitions(policy, now, existing);
  EXPECT_THAT(plan.create, IsEmpty());
  ASSERT_FALSE(plan.drop.empty());
  std::set<DayPartition> dropped(plan.drop.begin(), plan.drop.end());
  for (const DayPartition& p : existing) {
    const absl::Time from = RetainedFrom(policy, p.size, now);
    EXPECT_EQ(dropped.count(p) == 1, p.day < from) << PartitionName(p);
  }
  EXPECT_TRUE(dropped.count({v1::WINDOW_SIZE_1M, Utc(2026, 11, 20)}));
  EXPECT_FALSE(dropped.count({v1::WINDOW_SIZE_1M, Utc(2026, 11, 21)}));
  EXPECT_TRUE(dropped.count({v1::WINDOW_SIZE_5M, Utc(2026, 9, 5)}));
  EXPECT_FALSE(dropped.count({v1::WINDOW_SIZE_5M, Utc(2026, 9, 6)}));
}

TEST(PlanPartitionsTest, ForeverNeverDropsAndCreatesOnlyTheRecentDays) {
  RetentionPolicy policy;
  policy.keep_1m = absl::InfiniteDuration();
  policy.keep_5m = absl::InfiniteDuration();
  const absl::Time now = Utc(2026, 12, 5, 1);
  PartitionPlan plan = PlanPartitions(policy, now, {{v1::WINDOW_SIZE_1M, Utc(2001, 1, 1)}});
  EXPECT_THAT(plan.drop, IsEmpty());
  EXPECT_EQ(plan.purge_1m_before, absl::InfinitePast());
  EXPECT_EQ(plan.create.front(), (DayPartition{v1::WINDOW_SIZE_1M, Utc(2026, 11, 27)}));
  EXPECT_EQ(plan.create.back(), (DayPartition{v1::WINDOW_SIZE_5M, Utc(2026, 12, 8)}));
}

TEST(PlanPartitionsTest, CreatesNoFurtherBackThanTheRetention) {
  RetentionPolicy policy;
  policy.keep_1m = kMinimumRetention;
  policy.create_behind = 30 * kDay;
  PartitionPlan plan = PlanPartitions(policy, Utc(2026, 12, 5, 6), {});
  EXPECT_EQ(plan.create.front(), (DayPartition{v1::WINDOW_SIZE_1M, Utc(2026, 12, 3)}));
}

// Hour by hour over four months, with partitions changed only by the plans: after each pass the
// wanted days exist, nothing before the retained day is left, nothing at or after it was ever
// dropped, and a second plan at the same time changes nothing.
TEST(PlanPartitionsTest, HourlyPassesKeepTheInvariants) {
  for (absl::Duration keep : {kMinimumRetention, 14 * kDay, 90 * kDay, absl::InfiniteDuration()}) {
    RetentionPolicy policy;
    policy.keep_1m = keep;
    policy.keep_5m = keep == absl::InfiniteDuration() ? keep : keep + 7 * kDay;
    std::set<DayPartition> have;
    for (absl::Time now = Utc(2026, 1, 1, 0, 17); now < Utc(2026, 5, 1); now += absl::Hours(1)) {
      PartitionPlan plan = PlanPartitions(policy, now, {have.begin(), have.end()});
      for (const DayPartition& p : plan.create) {
        ASSERT_TRUE(have.insert(p).second) << "created twice: " << PartitionName(p);
      }
      for (const DayPartition& p : plan.drop) {
        ASSERT_LT(p.day + kDay, now - RetentionOf(policy, p.size) + absl::Nanoseconds(1))
            << "dropped a day with rows younger than the retention: " << PartitionName(p);
        ASSERT_EQ(have.erase(p), 1u);
      }
      for (v1::WindowSize size : kSizes) {
        const absl::Time from = RetainedFrom(policy, size, now);
        const absl::Time first =
            DayStart(now - std::min(policy.create_behind, RetentionOf(policy, size)));
        for (absl::Time d = first; d <= DayStart(now + policy.create_ahead); d += kDay) {
          ASSERT_TRUE(have.count({size, d})) << "missing " << PartitionName({size, d});
        }
        for (const DayPartition& p : have) {
          if (p.size == size) {
            ASSERT_GE(p.day, from) << "kept past retention: " << PartitionName(p);
          }
        }
        ASSERT_EQ(size == v1::WINDOW_SIZE_1M ? plan.purge_1m_before : plan.purge_5m_before, from);
      }
      ASSERT_TRUE(PlanPartitions(policy, now, {have.begin(), have.end()}).empty());
    }
  }
}

TEST(RetainedStartTest, MovesTheStartUpOrRefusesARangeWhollyDropped) {
  const RetentionPolicy policy;
  const absl::Time now = Utc(2026, 12, 5, 12);
  const absl::Time from = Utc(2026, 11, 21);
  absl::StatusOr<absl::Time> inside =
      RetainedStart(policy, v1::WINDOW_SIZE_1M, from + absl::Hours(1), now, now);
  ASSERT_TRUE(inside.ok());
  EXPECT_EQ(*inside, from + absl::Hours(1));
  absl::StatusOr<absl::Time> straddling =
      RetainedStart(policy, v1::WINDOW_SIZE_1M, from - kDay, from + kDay, now);
  ASSERT_TRUE(straddling.ok());
  EXPECT_EQ(*straddling, from);
  absl::StatusOr<absl::Time> gone =
      RetainedStart(policy, v1::WINDOW_SIZE_1M, from - 2 * kDay, from, now);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(gone.status().message(), HasSubstr("1m windows are kept for 14 days"));
  EXPECT_THAT(gone.status().message(), HasSubstr("2026-11-21T00:00:00Z"));
  // The 5-minute windows of that range are still kept.
  EXPECT_TRUE(RetainedStart(policy, v1::WINDOW_SIZE_5M, from - 2 * kDay, from, now).ok());
  RetentionPolicy forever;
  forever.keep_1m = absl::InfiniteDuration();
  EXPECT_EQ(*RetainedStart(forever, v1::WINDOW_SIZE_1M, Utc(2000, 1, 1), Utc(2000, 1, 2), now),
            Utc(2000, 1, 1));
}

}  // namespace
}  // namespace streammetrics::aggregation
