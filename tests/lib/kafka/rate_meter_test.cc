// Tests of RateMeter on a FakeClock: the last second's records, slices expiring as time moves,
// a long idle gap, and a clock that goes back.
#include "lib/kafka/rate_meter.h"

#include "gtest/gtest.h"

namespace streammetrics::kafka {
namespace {

TEST(RateMeterTest, CountsTheLastSecond) {
  FakeClock clock;
  RateMeter meter(&clock);
  EXPECT_EQ(meter.PerSecond(), 0);
  meter.Add(100);
  clock.Advance(absl::Milliseconds(500));
  meter.Add(50);
  EXPECT_EQ(meter.PerSecond(), 150);
  clock.Advance(absl::Milliseconds(600));  // the first 100 are now over a second old
  EXPECT_EQ(meter.PerSecond(), 50);
  clock.Advance(absl::Hours(1));  // idle: nothing left
  EXPECT_EQ(meter.PerSecond(), 0);
  meter.Add(7);
  EXPECT_EQ(meter.PerSecond(), 7);
}

TEST(RateMeterTest, AClockThatGoesBackCountsInTheCurrentSlice) {
  FakeClock clock;
  RateMeter meter(&clock);
  meter.Add(10);
  clock.Advance(-absl::Seconds(5));
  meter.Add(5);
  EXPECT_EQ(meter.PerSecond(), 15);
}

}  // namespace
}  // namespace streammetrics::kafka
