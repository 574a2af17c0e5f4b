// FakeRecordSink: the RecordSink contract (which KafkaRecordSink passes too, on the local cluster),
// and the knobs tests steer it with.
#include "lib/kafka/fake_record_sink.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/lib/kafka/record_sink_contract.h"

namespace streammetrics::kafka::testing {

// The fake, delivering every batch as soon as it is sent.
class FakeSinkEnv {
 public:
  RecordSink* sink() { return &sink_; }
  const std::string& topic() const { return topic_; }
  size_t Stored() const {
    size_t n = 0;
    for (const Record& r : sink_.Delivered()) n += r.topic == topic_;
    return n;
  }

 private:
  const std::string topic_ = "contract-topic";
  FakeRecordSink sink_{/*auto_complete=*/true};
};

INSTANTIATE_TYPED_TEST_SUITE_P(Fake, RecordSinkContract, ::testing::Types<FakeSinkEnv>);

namespace {

TEST(FakeRecordSinkTest, HeldBatchesCompleteWhenTheTestSaysAndFailWhereItSays) {
  FakeRecordSink sink;
  std::vector<absl::Status> seen;
  absl::Mutex mu;
  sink.SendBatch(std::vector<Record>(3), [&](std::vector<absl::Status> results) {
    absl::MutexLock lock(&mu);
    seen = std::move(results);
  });
  ASSERT_TRUE(sink.AwaitPending(1, absl::Seconds(10)));
  EXPECT_EQ(sink.PendingBatches(), 1u);
  ASSERT_TRUE(sink.CompleteOldest(
      [](size_t i) { return i == 1 ? absl::UnavailableError("broker down") : absl::OkStatus(); }));
  ASSERT_TRUE(sink.Flush(absl::Seconds(10)).ok());
  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].ok());
  EXPECT_EQ(seen[1].code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(seen[2].ok());
  EXPECT_EQ(sink.Delivered().size(), 2u);
  EXPECT_FALSE(sink.CompleteOldest()) << "nothing is pending any more";
}

}  // namespace
}  // namespace streammetrics::kafka::testing
