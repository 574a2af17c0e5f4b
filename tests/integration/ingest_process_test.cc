// IngestProcess in-process on the local cluster: it starts in its order and refuses to start when
// a part cannot (a missing topic), and a Stop while a client is streaming loses nothing it acked:
// the server stops taking batches, open streams end, and everything acked is on the topic.
#include "ingest-service/ingest_process.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "streammetrics/v1/ingest.grpc.pb.h"
#include "tests/ingest-service/test_events.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::ingest {
namespace {

using ::streammetrics::testing::ScopedTopic;

class IngestProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(events_.ok()) << events_.status();
    ASSERT_TRUE(dead_letters_.ok()) << dead_letters_.status();
    config_.listen_address = "127.0.0.1:0";
    config_.otlp_address = "127.0.0.1:0";
    config_.metrics_address = absl::StrCat("127.0.0.1:", streammetrics::testing::FreePort());
    config_.kafka.bootstrap_servers = streammetrics::testing::KafkaBootstrap();
    config_.topics = {events_.name(), dead_letters_.name()};
    config_.shutdown_grace = absl::Seconds(30);
    config_.flush_timeout = absl::Seconds(60);
  }

  ScopedTopic events_{"it-process-events", 6};
  ScopedTopic dead_letters_{"it-process-dead", 3};
  IngestConfig config_;
};

TEST_F(IngestProcessTest, StopWhileAClientStreamsLosesNothingAcked) {
  absl::StatusOr<std::unique_ptr<IngestProcess>> process = IngestProcess::Start(config_);
  ASSERT_TRUE(process.ok()) << process.status();
  auto stub = v1::IngestService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*process)->port()), grpc::InsecureChannelCredentials()));

  constexpr int kPerBatch = 100;
  grpc::ClientContext ctx;
  auto stream = stub->IngestStream(&ctx);
  std::atomic<int64_t> acked_events{0};
  std::thread reader([&] {
    v1::BatchAck ack;
    while (stream->Read(&ack)) {
      if (ack.status() == v1::ACK_STATUS_DURABLE) acked_events.fetch_add(kPerBatch);
    }
  });
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    // Writes until told to stop or the server stops taking batches, then half-closes.
    for (uint64_t seq = 1; writing.load(); ++seq) {
      if (!stream->Write(testing::Batch(absl::Now(), seq, kPerBatch))) return;
    }
    stream->WritesDone();
  });
  // Mid-load: acks are flowing, and batches are in flight, when Stop begins; the client
  // half-closes as Stop begins, so its open stream finishes within the grace period.
  ASSERT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(60),
                                                [&] { return acked_events.load() >= 2000; }));
  (*process)->Supervise();
  writing.store(false);
  EXPECT_TRUE((*process)->Stop().ok());
  writer.join();
  reader.join();
  EXPECT_TRUE(stream->Finish().ok()) << "the open stream ended cleanly, not cancelled";

  // Everything acked is durable on the events topic (resent-free: one record per acked event at
  // least; a batch written but not acked may be there too).
  EXPECT_GE(events_.RecordCount(), acked_events.load());
  EXPECT_EQ(dead_letters_.RecordCount(), 0);
  // The port is closed: a new call fails at once.
  grpc::ClientContext after;
  after.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::IngestSummary summary;
  auto late = stub->StreamMetrics(&after, &summary);
  late->WritesDone();
  EXPECT_FALSE(late->Finish().ok());
  EXPECT_TRUE((*process)->Stop().ok()) << "Stop is idempotent";
}

TEST_F(IngestProcessTest, AMissingTopicStopsTheStartWithAReason) {
  config_.topics.events = absl::StrCat("no-such-topic-", absl::ToUnixNanos(absl::Now()));
  config_.kafka.metadata_timeout = absl::Seconds(3);
  absl::StatusOr<std::unique_ptr<IngestProcess>> process = IngestProcess::Start(config_);
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find(config_.topics.events), absl::string_view::npos)
      << process.status();
}

TEST_F(IngestProcessTest, ATopicThatWouldRefuseItsBatchesStopsTheStartNamingBothLimits) {
  // 64 KiB: a dead letter fits, the producer's 1 MB batches do not.
  ScopedTopic small("it-process-small-dead", 3, {{"max.message.bytes", "65536"}});
  ASSERT_TRUE(small.ok()) << small.status();
  config_.topics.dead_letter = small.name();
  absl::StatusOr<std::unique_ptr<IngestProcess>> process = IngestProcess::Start(config_);
  ASSERT_FALSE(process.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(process.status())) << process.status();
  EXPECT_NE(process.status().message().find(absl::StrCat("topic ", small.name(),
                                                         " accepts record batches of up to "
                                                         "max.message.bytes=65536")),
            absl::string_view::npos)
      << process.status();
  // With batches that fit, the same topic is fine.
  config_.kafka.extra_properties = {{"batch.size", "65536"}};
  process = IngestProcess::Start(config_);
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE((*process)->Stop().ok());
}

TEST_F(IngestProcessTest, AnEventOfAMegabyteIsDeadLetteredInPartAndAckedDurable) {
  absl::StatusOr<std::unique_ptr<IngestProcess>> process = IngestProcess::Start(config_);
  ASSERT_TRUE(process.ok()) << process.status();
  auto stub = v1::IngestService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*process)->port()), grpc::InsecureChannelCredentials()));
  v1::MetricBatch batch = testing::Batch(absl::Now(), 1, 2);
  (*batch.mutable_events(1)->mutable_metadata())["blob"] = std::string(1'200'000, 'm');
  grpc::ClientContext ctx;
  auto stream = stub->IngestStream(&ctx);
  ASSERT_TRUE(stream->Write(batch));
  v1::BatchAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_DURABLE) << ack.error();
  EXPECT_EQ(ack.events_accepted(), 1u);
  ASSERT_EQ(ack.rejections_size(), 1);
  EXPECT_EQ(ack.rejections(0).reason(), v1::DEAD_LETTER_REASON_FIELD_TOO_LONG);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(dead_letters_.RecordCount(), 1);
  EXPECT_TRUE((*process)->Stop().ok());
}

}  // namespace
}  // namespace streammetrics::ingest
