// Tests of the PartitionMaintainer over the in-memory catalog and a fake clock: a pass creates
// the days ahead, moves rows out of the default partition and drops and purges what passed the
// retention; a failed pass changes nothing and is reported; the thread runs a pass every
// interval, and sooner after a failure.
#include "aggregation-service/store/partition_maintainer.h"

#include <vector>

#include "aggregation-service/store/fake_partition_catalog.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);

absl::Time Utc(int y, int mo, int d, int h = 0) {
  return absl::FromCivil(absl::CivilHour(y, mo, d, h), absl::UTCTimeZone());
}

class PartitionMaintainerTest : public ::testing::Test {
 protected:
  PartitionMaintainerTest() : clock_(Utc(2026, 12, 5, 12)) {}

  PartitionMaintainer Make() {
    return PartitionMaintainer(&catalog_, &clock_, options_,
                               [this](const absl::StatusOr<PartitionChanges>& pass) {
                                 absl::MutexLock lock(&mu_);
                                 passes_.push_back(pass);
                               });
  }
  size_t passes() {
    absl::MutexLock lock(&mu_);
    return passes_.size();
  }
  absl::StatusOr<PartitionChanges> last_pass() {
    absl::MutexLock lock(&mu_);
    return passes_.back();
  }

  FakePartitionCatalog catalog_;
  FakeClock clock_;
  PartitionMaintainerOptions options_;
  absl::Mutex mu_;
  std::vector<absl::StatusOr<PartitionChanges>> passes_ ABSL_GUARDED_BY(mu_);
};

TEST_F(PartitionMaintainerTest, FirstPassCreatesTheDaysAroundNow) {
  PartitionMaintainer m = Make();
  absl::StatusOr<PartitionChanges> pass = m.RunOnce();
  ASSERT_TRUE(pass.ok()) << pass.status();
  // 8 days back, today, 3 ahead; both sizes.
  EXPECT_EQ(pass->created, 2 * 12);
  EXPECT_EQ(pass->dropped, 0);
  EXPECT_EQ(catalog_.partitions().size(), 24u);
  ASSERT_EQ(passes(), 1u);
  EXPECT_EQ(last_pass()->created, 24);
  // A second pass at the same time has nothing to do.
  EXPECT_EQ(m.RunOnce()->created, 0);
}

TEST_F(PartitionMaintainerTest, LaterPassesDropExpiredDaysAndTakeRowsFromTheDefault) {
  PartitionMaintainer m = Make();
  ASSERT_TRUE(m.RunOnce().ok());
  // Rows that landed in the default partition: one for a day about to get its partition, one
  // older than the 1-minute retention will be, one 5-minute row still retained.
  catalog_.AddDefaultRow(v1::WINDOW_SIZE_1M, Utc(2026, 12, 9, 3));
  catalog_.AddDefaultRow(v1::WINDOW_SIZE_1M, Utc(2026, 11, 1));
  catalog_.AddDefaultRow(v1::WINDOW_SIZE_5M, Utc(2026, 11, 1));
  clock_.Advance(kDay);
  absl::StatusOr<PartitionChanges> pass = m.RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->created, 2);  // one new day ahead per size
  EXPECT_EQ(pass->rows_moved, 1);
  EXPECT_EQ(pass->rows_purged, 1);
  EXPECT_EQ(catalog_.default_rows(), 1u);
  // Fifteen days on, the 1-minute days older than 14 days are gone, the 5-minute ones are not.
  clock_.Advance(15 * kDay);
  pass = m.RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_GT(pass->dropped, 0);
  for (const DayPartition& p : catalog_.partitions()) {
    EXPECT_GE(p.day, RetainedFrom(options_.retention, p.size, clock_.Now())) << PartitionName(p);
  }
  std::set<DayPartition> have;
  for (const DayPartition& p : catalog_.partitions()) have.insert(p);
  EXPECT_TRUE(have.count({v1::WINDOW_SIZE_5M, Utc(2026, 11, 27)}));
  EXPECT_FALSE(have.count({v1::WINDOW_SIZE_1M, Utc(2026, 11, 27)}));
}

TEST_F(PartitionMaintainerTest, AFailedPassChangesNothingAndIsReported) {
  PartitionMaintainer m = Make();
  catalog_.FailNextList(absl::UnavailableError("database down"));
  absl::StatusOr<PartitionChanges> pass = m.RunOnce();
  EXPECT_EQ(pass.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(catalog_.partitions().empty());
  ASSERT_EQ(passes(), 1u);
  EXPECT_FALSE(last_pass().ok());
  catalog_.FailNextApply(absl::UnavailableError("lock not available"));
  EXPECT_FALSE(m.RunOnce().ok());
  EXPECT_TRUE(catalog_.partitions().empty());
  EXPECT_TRUE(m.RunOnce().ok());
  EXPECT_FALSE(catalog_.partitions().empty());
}

TEST_F(PartitionMaintainerTest, TheThreadRunsAPassEachIntervalAndRetriesSooner) {
  options_.interval = absl::Hours(1);
  options_.retry_after = absl::Minutes(1);
  PartitionMaintainer m = Make();
  m.Start();
  EXPECT_EQ(passes(), 0u);  // the first pass is the caller's (RunOnce at start)
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(testing::PollUntil(absl::Seconds(10), [&] { return passes() == 1; }));
  EXPECT_TRUE(last_pass().ok());
  catalog_.FailNextApply(absl::UnavailableError("lock not available"));
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(testing::PollUntil(absl::Seconds(10), [&] { return passes() == 2; }));
  EXPECT_FALSE(last_pass().ok());
  // The retry comes a minute later, not an hour.
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(testing::PollUntil(absl::Seconds(10), [&] { return passes() == 3; }));
  EXPECT_TRUE(last_pass().ok());
  m.Stop();
  m.Stop();
  clock_.Advance(absl::Hours(5));
  EXPECT_EQ(passes(), 3u);
}

}  // namespace
}  // namespace streammetrics::aggregation
