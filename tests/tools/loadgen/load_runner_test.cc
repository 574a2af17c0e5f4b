// LoadRunner against the real IngestServiceImpl in process (FakeRecordSink behind it): every event
// sent is acked into the ledger once, deliberate rejections included; Stop and bad options.
#include "tools/loadgen/load_runner.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/lib/client/in_process_ingest.h"
#include "tests/support/stack.h"

namespace streammetrics::loadgen {
namespace {

using ::streammetrics::client::testing::InProcessIngest;
using ::streammetrics::testing::FreePort;
using ::streammetrics::testing::PollUntil;

class LoadRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreePort();
    server_ = std::make_unique<InProcessIngest>(port_, /*auto_complete=*/true);
    ASSERT_TRUE(server_->ok());
  }
  RunOptions Options() {
    RunOptions o;
    o.target = absl::StrCat("127.0.0.1:", port_);
    o.run_id = "rt";
    o.streams = 3;
    o.rate = 0;
    o.duration = absl::Minutes(5);
    o.batch_size = 100;
    o.max_buffered_events = 1000;
    return o;
  }

  int port_ = 0;
  std::unique_ptr<InProcessIngest> server_;
  SeriesCatalog catalog_ =
      *SeriesCatalog::Create({.run_id = "rt", .services = 2, .metrics = 3, .tag_sets = 4});
  ValueDistribution values_ = *ValueDistribution::Parse("exponential:10");
  Ledger ledger_;
};

TEST_F(LoadRunnerTest, ACountedRunAcksEveryEventOnceIntoTheLedger) {
  RunOptions o = Options();
  o.events = 20'000;
  o.invalid_fraction = 0.05;
  LoadRunner runner(o, &catalog_, &values_, &ledger_);
  ASSERT_TRUE(runner.Run().ok());
  const RunTotals& t = runner.totals();
  EXPECT_EQ(t.events_sent, 20'000u);
  EXPECT_EQ(t.events_unacked, 0u);
  EXPECT_EQ(t.send_timeouts, 0u);
  EXPECT_TRUE(t.problems.empty());
  // Building and sending 20,000 events takes CPU; the runner's account of it is the process's.
  EXPECT_GT(t.cpu_time, absl::ZeroDuration());
  const LedgerCounts c = ledger_.counts();
  EXPECT_EQ(c.events_accepted + c.events_rejected_as_expected, 20'000u);
  EXPECT_NEAR(static_cast<double>(c.events_rejected_as_expected), 1000, 200);
  EXPECT_EQ(c.events_rejected_unexpectedly, 0u);
  EXPECT_EQ(c.events_accepted_unexpectedly, 0u);
  uint64_t in_windows = 0;
  for (const LedgerWindow& w : ledger_.Windows(v1::WINDOW_SIZE_1M)) in_windows += w.totals.count;
  EXPECT_EQ(in_windows, c.events_accepted);
  EXPECT_EQ(server_->fake().Delivered().size(), 20'000u) << "accepted and dead letters, once each";
}

TEST_F(LoadRunnerTest, StopEndsAPacedRunAndStillFlushes) {
  RunOptions o = Options();
  o.rate = 2000;
  LoadRunner runner(o, &catalog_, &values_, &ledger_);
  std::thread stopper([&] {
    // Stops in any case, so a failure cannot leave the run going for its 5 minutes.
    if (!PollUntil(absl::Seconds(20), [&] { return runner.events_sent() >= 500; })) {
      ADD_FAILURE() << "fewer than 500 events sent in 20 s";
    }
    runner.Stop();
  });
  ASSERT_TRUE(runner.Run().ok());
  stopper.join();
  const RunTotals& t = runner.totals();
  EXPECT_GE(t.events_sent, 500u);
  EXPECT_LT(t.elapsed, absl::Minutes(1)) << "did not run its 5 minutes";
  EXPECT_EQ(ledger_.counts().events_accepted, t.events_sent);
  EXPECT_EQ(t.events_unacked, 0u);
}

TEST_F(LoadRunnerTest, PacedEventsAreStampedWithTheirDueTimes) {
  // Open loop: event k of a stream is due at start + k / stream_rate, whatever the sending did.
  RunOptions o = Options();
  o.streams = 1;
  o.rate = 1000;
  o.events = 300;
  o.time_offset = absl::Minutes(2);
  Ledger ledger(o.time_offset);
  const absl::Time before = absl::Now();
  LoadRunner runner(o, &catalog_, &values_, &ledger);
  ASSERT_TRUE(runner.Run().ok());
  EXPECT_LT(ledger.LatencyMs(1), 60'000) << "latency counts from the send time, not the stamp";
  std::vector<absl::Time> stamps;
  for (const auto& r : server_->fake().Delivered()) {
    v1::MetricEvent e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    stamps.push_back(absl::FromUnixSeconds(e.timestamp().seconds()) +
                     absl::Nanoseconds(e.timestamp().nanos()));
  }
  ASSERT_EQ(stamps.size(), 300u);
  std::sort(stamps.begin(), stamps.end());
  EXPECT_GE(stamps.front(), before - absl::Minutes(2)) << "stamped time_offset early";
  EXPECT_LT(stamps.back(), before - absl::Minutes(1));
  for (size_t k = 1; k < stamps.size(); ++k) {
    EXPECT_LE(absl::AbsDuration(stamps[k] - stamps[k - 1] - absl::Milliseconds(1)),
              absl::Microseconds(1))
        << k;
  }
}

TEST_F(LoadRunnerTest, SeveralTargetsShareTheStreamsRoundRobin) {
  const int second_port = FreePort();
  InProcessIngest second(second_port, /*auto_complete=*/true);
  ASSERT_TRUE(second.ok());
  RunOptions o = Options();
  o.streams = 4;
  o.events = 8'000;
  o.target = absl::StrCat("127.0.0.1:", port_, ", 127.0.0.1:", second_port);
  LoadRunner runner(o, &catalog_, &values_, &ledger_);
  ASSERT_TRUE(runner.Run().ok());
  EXPECT_EQ(ledger_.counts().events_accepted, 8'000u);
  // Two streams each: both took a share, and together all of it once.
  const size_t first_took = server_->fake().Delivered().size();
  const size_t second_took = second.fake().Delivered().size();
  EXPECT_GT(first_took, 1'000u);
  EXPECT_GT(second_took, 1'000u);
  EXPECT_EQ(first_took + second_took, 8'000u);
}

TEST_F(LoadRunnerTest, RefusesBadOptionsBeforeSendingAnything) {
  const std::vector<std::pair<void (*)(RunOptions&), const char*>> cases = {
      {[](RunOptions& o) { o.streams = 0; }, "streams"},
      {[](RunOptions& o) { o.rate = -1; }, "rate"},
      {[](RunOptions& o) { o.duration = absl::ZeroDuration(); }, "duration"},
      {[](RunOptions& o) { o.batch_size = 1001; }, "batch_size"},
      {[](RunOptions& o) { o.max_buffered_events = 10; }, "max_buffered_events"},
      {[](RunOptions& o) { o.invalid_fraction = 1.5; }, "invalid_fraction"},
      {[](RunOptions& o) { o.time_offset = absl::Seconds(-1); }, "time_offset"},
      {[](RunOptions& o) { o.target = " , "; }, "target must name"},
      {[](RunOptions& o) { o.target = "a:1,b:2,c:3,d:4"; }, "each needs a stream"},
  };
  for (const auto& [mutate, why] : cases) {
    RunOptions o = Options();
    mutate(o);
    LoadRunner runner(o, &catalog_, &values_, &ledger_);
    absl::Status s = runner.Run();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << why;
    EXPECT_THAT(s.message(), ::testing::HasSubstr(why));
  }
  EXPECT_TRUE(server_->fake().Delivered().empty());
}

}  // namespace
}  // namespace streammetrics::loadgen
