#include "lib/security/caller_limits.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::security {
namespace {

using ::testing::HasSubstr;

TEST(CallerSlotsTest, PerCallerLimitLeavesRoomForOthers) {
  CallerSlots slots("watchers", 4, 2);
  CallerSlots::Slot a1, a2, a3, b1;
  ASSERT_TRUE(slots.Acquire("a", &a1).ok());
  ASSERT_TRUE(slots.Acquire("a", &a2).ok());
  bool caller_limit = false;
  absl::Status third = slots.Acquire("a", &a3, &caller_limit);
  EXPECT_TRUE(absl::IsResourceExhausted(third));
  EXPECT_TRUE(caller_limit);
  EXPECT_THAT(third.message(), HasSubstr("caller a already holds its limit of 2 watchers"));
  EXPECT_FALSE(a3.held());
  EXPECT_TRUE(slots.Acquire("b", &b1).ok());
  EXPECT_EQ(slots.total(), 3u);
  EXPECT_EQ(slots.held_by("a"), 2u);
}

TEST(CallerSlotsTest, TotalLimitAppliesOverAllCallers) {
  CallerSlots slots("ingest streams", 2, 0);
  CallerSlots::Slot a, b, c;
  ASSERT_TRUE(slots.Acquire("a", &a).ok());
  ASSERT_TRUE(slots.Acquire("b", &b).ok());
  bool caller_limit = true;
  absl::Status s = slots.Acquire("c", &c, &caller_limit);
  EXPECT_TRUE(absl::IsResourceExhausted(s));
  EXPECT_FALSE(caller_limit);
  EXPECT_THAT(s.message(), HasSubstr("limit of 2 ingest streams"));
}

TEST(CallerSlotsTest, ReleasingAndDestroyingFreeTheSlot) {
  CallerSlots slots("streams", 1, 1);
  {
    CallerSlots::Slot s;
    ASSERT_TRUE(slots.Acquire("a", &s).ok());
    EXPECT_EQ(slots.total(), 1u);
  }
  EXPECT_EQ(slots.total(), 0u);
  CallerSlots::Slot s;
  ASSERT_TRUE(slots.Acquire("a", &s).ok());
  CallerSlots::Slot moved = std::move(s);
  EXPECT_FALSE(s.held());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(moved.held());
  moved.Release();
  moved.Release();  // idempotent
  EXPECT_EQ(slots.total(), 0u);
  EXPECT_EQ(slots.held_by("a"), 0u);
}

TEST(CallerSlotsTest, ZeroMeansNoLimit) {
  CallerSlots slots("streams", 0, 0);
  std::vector<CallerSlots::Slot> held(1000);
  for (auto& s : held) ASSERT_TRUE(slots.Acquire("a", &s).ok());
  EXPECT_EQ(slots.total(), 1000u);
}

TEST(CallerRateLimiterTest, BurstThenPaceAtTheRate) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  CallerRateLimiter limiter(/*rate=*/100, /*burst=*/200, &clock);
  EXPECT_EQ(limiter.Reserve("a", 200), absl::ZeroDuration());  // the burst
  EXPECT_EQ(limiter.Reserve("a", 50), absl::Milliseconds(500));
  EXPECT_EQ(limiter.Debt("a"), absl::Milliseconds(500));
  clock.Advance(absl::Milliseconds(500));
  EXPECT_EQ(limiter.Debt("a"), absl::ZeroDuration());
  // Another caller has its own bucket.
  EXPECT_EQ(limiter.Reserve("b", 200), absl::ZeroDuration());
}

TEST(CallerRateLimiterTest, SavesUpNoMoreThanTheBurst) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  CallerRateLimiter limiter(10, 20, &clock);
  EXPECT_EQ(limiter.Reserve("a", 20), absl::ZeroDuration());
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(limiter.Reserve("a", 20), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve("a", 10), absl::Seconds(1));
}

TEST(CallerRateLimiterTest, DisabledNeverWaits) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  CallerRateLimiter limiter(0, 0, &clock);
  EXPECT_FALSE(limiter.enabled());
  EXPECT_EQ(limiter.Reserve("a", 1e9), absl::ZeroDuration());
}

}  // namespace
}  // namespace streammetrics::security
