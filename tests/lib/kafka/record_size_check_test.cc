// CheckRecordSizes (lib/kafka/record_size_check.h): the producer's records and batches against
// what each topic accepts. Pure; the live variant runs at every service start on the real stack.
#include "lib/kafka/record_size_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::kafka {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// librdkafka's defaults and the broker's default max.message.bytes.
constexpr ProducerSizeLimits kDefaults{1'000'000, 1'000'000};
constexpr int64_t kBrokerDefault = 1'048'588;

TEST(RecordSizeCheckTest, TheDefaultsAgree) {
  EXPECT_TRUE(CheckRecordSizes(kDefaults, 34 << 10, {{"events", kBrokerDefault}}).ok());
  EXPECT_TRUE(CheckRecordSizes(kDefaults, 0, {{"events", kBrokerDefault}}).ok());
}

TEST(RecordSizeCheckTest, ATopicSmallerThanTheProducersBatchesIsNamedWithBothNumbers) {
  absl::Status s =
      CheckRecordSizes(kDefaults, 1000, {{"events", kBrokerDefault}, {"dead", 65'536}});
  ASSERT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), AllOf(HasSubstr("topic dead"), HasSubstr("max.message.bytes=65536"),
                                 HasSubstr("up to 1000000"), HasSubstr("batch.size=65536")));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("topic events")));
}

TEST(RecordSizeCheckTest, ASmallerBatchSizeMakesASmallTopicFit) {
  const ProducerSizeLimits small_batches{1'000'000, 60'000};
  EXPECT_TRUE(CheckRecordSizes(small_batches, 1000, {{"dead", 65'536}}).ok());
}

TEST(RecordSizeCheckTest, ARecordLargerThanTheBatchStillGoesOutAloneAndMustFit) {
  const ProducerSizeLimits small_batches{1'000'000, 16'384};
  absl::Status s = CheckRecordSizes(small_batches, 40'000, {{"t", 32'768}});
  ASSERT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("up to 40512"));  // the record and its framing
}

TEST(RecordSizeCheckTest, ARecordOverTheProducersMessageMaxBytesIsNamed) {
  const ProducerSizeLimits tiny{20'000, 20'000};
  absl::Status s = CheckRecordSizes(tiny, 34 << 10, {{"events", kBrokerDefault}});
  ASSERT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("message.max.bytes is 20000"), HasSubstr("message.max.bytes=35328")));
}

}  // namespace
}  // namespace streammetrics::kafka
