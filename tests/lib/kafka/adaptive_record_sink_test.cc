// Tests of AdaptiveRecordSink over two FakeRecordSinks on a FakeClock: light load goes to the
// quick sink, heavy load to the bulk sink, the hysteresis between the thresholds, every batch's
// callback from whichever sink took it, and Flush of both.
#include "lib/kafka/adaptive_record_sink.h"

#include <atomic>

#include "gtest/gtest.h"
#include "lib/kafka/fake_record_sink.h"

namespace streammetrics::kafka {
namespace {

std::vector<Record> Records(size_t n) {
  std::vector<Record> r(n);
  for (Record& x : r) x.topic = "t";
  return r;
}

class AdaptiveRecordSinkTest : public ::testing::Test {
 protected:
  // Sends `n` records in one batch and counts its callback.
  void Send(size_t n) {
    sink_.SendBatch(Records(n), [this](std::vector<absl::Status> results) {
      for (const absl::Status& s : results) ok_ += s.ok() ? 1 : 0;
    });
  }

  FakeClock clock_;
  FakeRecordSink quick_{/*auto_complete=*/true};
  FakeRecordSink bulk_{/*auto_complete=*/true};
  AdaptiveRecordSink sink_{&quick_, &bulk_, &clock_, {.quick_below = 1000, .bulk_above = 2000}};
  std::atomic<size_t> ok_{0};
};

TEST_F(AdaptiveRecordSinkTest, FollowsTheLoadWithHysteresis) {
  Send(500);  // 500/s: quick
  EXPECT_TRUE(sink_.quick());
  Send(1000);  // 1,500/s: between the thresholds, stays quick
  EXPECT_TRUE(sink_.quick());
  Send(600);  // 2,100/s: bulk
  EXPECT_FALSE(sink_.quick());
  clock_.Advance(absl::Milliseconds(1100));  // the second has passed
  Send(1500);                                // 1,500/s: between, stays bulk
  EXPECT_FALSE(sink_.quick());
  clock_.Advance(absl::Milliseconds(1100));
  Send(100);  // 100/s: quick again
  EXPECT_TRUE(sink_.quick());
  EXPECT_EQ(sink_.switches(), 2u);
  ASSERT_TRUE(sink_.Flush(absl::Seconds(10)).ok());
  EXPECT_EQ(quick_.Delivered().size(), 500u + 1000u + 100u);
  EXPECT_EQ(bulk_.Delivered().size(), 600u + 1500u);
  EXPECT_EQ(ok_.load(), 3700u);
}

TEST_F(AdaptiveRecordSinkTest, FlushWaitsForBoth) {
  quick_.SetAutoComplete(false);
  Send(10);
  EXPECT_TRUE(absl::IsDeadlineExceeded(sink_.Flush(absl::Milliseconds(50))));
  quick_.CompleteAll();
  EXPECT_TRUE(sink_.Flush(absl::Seconds(10)).ok());
  EXPECT_EQ(ok_.load(), 10u);
}

}  // namespace
}  // namespace streammetrics::kafka
