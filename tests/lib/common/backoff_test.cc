// Backoff: growth, cap, jitter bounds and reset, and attempts timed on an injected clock.
#include "lib/common/backoff.h"

#include <string>

#include "gtest/gtest.h"
#include "lib/common/clock.h"

namespace streammetrics {
namespace {

TEST(BackoffTest, DoublesFromInitialUpToMax) {
  Backoff b(BackoffOptions{}, [] { return 0.5; });  // 0.5: no jitter
  const int expect_ms[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
  for (int ms : expect_ms) EXPECT_EQ(b.Next(), absl::Milliseconds(ms));
  b.Reset();
  EXPECT_EQ(b.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, JitterStaysWithinItsBoundsAndUnderMax) {
  Backoff low(BackoffOptions{}, [] { return 0.0; });
  EXPECT_EQ(low.Next(), absl::Milliseconds(80));
  Backoff high(BackoffOptions{}, [] { return 0.999999; });
  const absl::Duration first = high.Next();
  EXPECT_GT(first, absl::Milliseconds(119));
  EXPECT_LE(first, absl::Milliseconds(120));
  for (int i = 0; i < 10; ++i) EXPECT_LE(high.Next(), absl::Seconds(5));
  Backoff real(BackoffOptions{});
  for (int i = 0; i < 1000; ++i) {
    const absl::Duration d = real.Next();
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LE(d, absl::Seconds(5));
    if (i % 10 == 0) real.Reset();
  }
}

TEST(BackoffTest, FailedTimesTheNextAttemptOnTheInjectedClock) {
  FakeClock clock;
  Backoff b(BackoffOptions{.initial = absl::Seconds(1), .max = absl::Seconds(4), .jitter = 0},
            &clock);
  const absl::Time t0 = clock.Now();
  EXPECT_EQ(b.Failed(), t0 + absl::Seconds(1));
  EXPECT_EQ(b.Failed(), t0 + absl::Seconds(2));
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(b.Failed(), t0 + absl::Seconds(10) + absl::Seconds(4));
  EXPECT_EQ(b.Failed(), t0 + absl::Seconds(10) + absl::Seconds(4));  // capped at max
  b.Reset();
  EXPECT_EQ(b.Failed(), t0 + absl::Seconds(10) + absl::Seconds(1));
}

}  // namespace
}  // namespace streammetrics
