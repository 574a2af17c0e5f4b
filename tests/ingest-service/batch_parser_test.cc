// ParseBatch (ingest-service/batch_parser.h): a batch that parses comes out whole; one that does
// not is refused with a reason a person can act on, naming the field when protobuf does. No I/O.
#include "ingest-service/batch_parser.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/common/protobuf_log.h"
#include "tests/ingest-service/test_events.h"
#include "tests/ingest-service/test_server.h"

namespace streammetrics::ingest {
namespace {

using ::testing::HasSubstr;
using testing::Message;

class BatchParserTest : public ::testing::Test {
 protected:
  void SetUp() override { RouteProtobufLogs(); }
};

TEST_F(BatchParserTest, AWellFormedBatchParsesWhole) {
  const v1::MetricBatch sent = testing::Batch(absl::FromUnixSeconds(1'700'000'000), 7, 3);
  grpc::ByteBuffer bytes = Message(sent.SerializeAsString());
  v1::MetricBatch got;
  ASSERT_TRUE(ParseBatch(&bytes, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), sent.SerializeAsString());
  EXPECT_EQ(bytes.Length(), 0u);  // emptied
}

TEST_F(BatchParserTest, InvalidUtf8IsRefusedNamingTheFieldAndKeepsTheSequence) {
  v1::MetricBatch sent = testing::Batch(absl::FromUnixSeconds(1'700'000'000), 9, 2);
  sent.mutable_events(1)->set_unit("m\xc3\x28s");  // an invalid two-byte sequence
  grpc::ByteBuffer bytes = Message(sent.SerializePartialAsString());
  v1::MetricBatch got;
  absl::Status s = ParseBatch(&bytes, &got);
  ASSERT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("streammetrics.v1.MetricEvent.unit"));
  EXPECT_THAT(s.message(), HasSubstr("invalid UTF-8"));
  EXPECT_EQ(got.sequence(), 9u);
}

TEST_F(BatchParserTest, TruncatedAndGarbageBytesAreRefused) {
  const std::string whole =
      testing::Batch(absl::FromUnixSeconds(1'700'000'000), 3, 4).SerializeAsString();
  for (const std::string& bad : {whole.substr(0, whole.size() - 5), std::string("\xff\xff\xff"),
                                 std::string("\x0a\x80", 2)}) {
    grpc::ByteBuffer bytes = Message(bad);
    v1::MetricBatch got;
    absl::Status s = ParseBatch(&bytes, &got);
    ASSERT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr("does not parse"));
    EXPECT_THAT(s.message(), HasSubstr("truncated"));
  }
}

TEST_F(BatchParserTest, TheInnermostCaptureTakesTheLine) {
  v1::MetricBatch sent;
  sent.set_client_id("c\xff");
  // Serializing logs a line of its own about the invalid UTF-8: before the capture.
  grpc::ByteBuffer bytes = Message(sent.SerializePartialAsString());
  ProtobufLogCapture capture;
  v1::MetricBatch got;
  EXPECT_FALSE(ParseBatch(&bytes, &got).ok());
  // ParseBatch's own (inner) capture took the line.
  EXPECT_TRUE(capture.message().empty());
}

}  // namespace
}  // namespace streammetrics::ingest
