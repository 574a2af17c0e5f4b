// StopSignals: a blocked SIGTERM or SIGINT waits for main instead of killing the process.
#include "lib/common/stop_signals.h"

#include <csignal>

#include "gtest/gtest.h"

namespace streammetrics {
namespace {

TEST(StopSignalsTest, ABlockedSignalIsCollectedByWait) {
  const StopSignals signals = StopSignals::Block();
  EXPECT_EQ(signals.Wait(absl::Milliseconds(1)), -1) << "nothing pending";
  ASSERT_EQ(raise(SIGTERM), 0);  // would end the test binary if it were not blocked
  EXPECT_EQ(signals.Wait(absl::Seconds(10)), SIGTERM);
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_EQ(signals.Wait(absl::Seconds(10)), SIGINT);
  EXPECT_EQ(signals.Wait(absl::ZeroDuration()), -1) << "each signal is collected once";
}

}  // namespace
}  // namespace streammetrics
