// The ingest service in front of the real 3-broker cluster: what goes in comes out exactly once,
// decodable, keyed and stamped as docs/contract.md §4 says; invalid events become dead letters;
// acks arrive per batch; a broker stopped mid-stream loses nothing that was acked.
//
// The service runs in-process (real gRPC server, real KafkaRecordSink) and writes to throwaway
// topics, so every count is exact.
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ingest-service/ingest_service.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/series_key.h"
#include "lib/kafka/kafka_record_sink.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "tests/ingest-service/test_events.h"
#include "tests/ingest-service/test_server.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::ingest {
namespace {

using ::streammetrics::testing::ConsumeAll;
using ::streammetrics::testing::ConsumedRecord;
using ::streammetrics::testing::ScopedTopic;
using testing::Batch;

using Key = std::tuple<std::string, uint64_t, uint32_t>;

Key KeyOf(const ConsumedRecord& r) {
  auto key = events::DecodeHeaders([&](absl::string_view name) -> std::optional<absl::string_view> {
    auto it = r.headers.find(std::string(name));
    if (it == r.headers.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? Key{key->client_id, key->sequence, key->event_index} : Key{};
}

class IngestKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(events_.ok()) << events_.status();
    ASSERT_TRUE(dead_letters_.ok()) << dead_letters_.status();
    kafka::KafkaSinkConfig config;
    config.bootstrap_servers = ::streammetrics::testing::KafkaBootstrap();
    config.topics = {events_.name(), dead_letters_.name()};
    auto sink = kafka::KafkaRecordSink::Create(config);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
    deps_.sink = sink_.get();
    deps_.budget = &budget_;
    deps_.clock = RealClock::Get();
    deps_.metrics = &metrics_;
    deps_.topics = {events_.name(), dead_letters_.name()};
    service_ = std::make_unique<IngestServiceImpl>(deps_);
    testing::TestServer served = testing::ServeInProcess(service_.get());
    ASSERT_NE(served.server, nullptr);
    server_ = std::move(served.server);
    stub_ = std::move(served.stub);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (sink_) {
      EXPECT_TRUE(sink_->Close(absl::Seconds(30)).ok());
    }
  }

  ScopedTopic events_{"it-ingest-events", 6};
  ScopedTopic dead_letters_{"it-ingest-dead", 3};
  std::unique_ptr<kafka::KafkaRecordSink> sink_;
  ByteBudget budget_{64 << 20};
  IngestMetrics metrics_;
  IngestDeps deps_;
  std::unique_ptr<IngestServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
};

TEST_F(IngestKafkaTest, EveryAcceptedEventIsOneDecodableRecordAndEveryInvalidOneADeadLetter) {
  constexpr int kBatches = 20, kPerBatch = 500;
  grpc::ClientContext ctx;
  v1::IngestSummary summary;
  auto writer = stub_->StreamMetrics(&ctx, &summary);
  std::map<Key, v1::MetricEvent> sent;
  for (int b = 1; b <= kBatches; ++b) {
    v1::MetricBatch batch = Batch(absl::Now(), b, kPerBatch, /*nan_at=*/b * 7);
    for (int i = 0; i < kPerBatch; ++i) sent[{"client-a", b, i}] = batch.events(i);
    ASSERT_TRUE(writer->Write(batch));
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.events_received(), 10000u);
  EXPECT_EQ(summary.events_accepted(), 9980u);
  EXPECT_EQ(summary.events_rejected(), 20u);

  // Exactly the accepted events, once each, decodable, keyed by series, stamped with their key.
  std::vector<ConsumedRecord> records = ConsumeAll(events_.name(), 9980);
  ASSERT_EQ(records.size(), 9980u);
  EXPECT_EQ(events_.RecordCount(), 9980) << "no duplicates on the log";
  std::set<Key> seen;
  for (const ConsumedRecord& r : records) {
    Key key = KeyOf(r);
    EXPECT_TRUE(seen.insert(key).second) << "duplicate record";
    v1::MetricEvent event;
    ASSERT_TRUE(event.ParseFromString(r.value));
    ASSERT_TRUE(sent.count(key));
    EXPECT_EQ(event.event_id(), sent[key].event_id());
    EXPECT_EQ(event.value(), sent[key].value());
    EXPECT_EQ(r.key, events::SeriesKey(event));
    EXPECT_EQ(r.headers.at("content-type"), std::string(events::kContentTypeMetricEvent));
  }

  std::vector<ConsumedRecord> dead = ConsumeAll(dead_letters_.name(), 20);
  ASSERT_EQ(dead.size(), 20u);
  for (const ConsumedRecord& r : dead) {
    v1::DeadLetter letter;
    ASSERT_TRUE(letter.ParseFromString(r.value));
    EXPECT_EQ(letter.reason(), v1::DEAD_LETTER_REASON_NON_FINITE_VALUE);
    EXPECT_EQ(letter.event_index(), letter.sequence() * 7);
    EXPECT_THAT(letter.detail(), ::testing::HasSubstr("value"));
    v1::MetricEvent original;
    ASSERT_TRUE(original.ParseFromString(letter.original()));
    EXPECT_TRUE(std::isnan(original.value()));
  }
}

TEST_F(IngestKafkaTest, AcksArrivePerBatchAndMatchTheLog) {
  grpc::ClientContext ctx;
  auto stream = stub_->IngestStream(&ctx);
  uint32_t accepted = 0;
  for (int b = 1; b <= 10; ++b) {
    ASSERT_TRUE(stream->Write(Batch(absl::Now(), b, 100)));
    v1::BatchAck ack;
    ASSERT_TRUE(stream->Read(&ack)) << "no ack for batch " << b;
    EXPECT_EQ(ack.sequence(), static_cast<uint64_t>(b));
    EXPECT_EQ(ack.status(), v1::ACK_STATUS_DURABLE);
    accepted += ack.events_accepted();
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(accepted, 1000u);
  // Durable means durable: the records are there before anyone flushed anything.
  EXPECT_EQ(events_.RecordCount(), 1000);
}

// Tests that stop, kill or restart a shared server: run alone (tests/CMakeLists.txt).
class IngestKafkaFaultTest : public IngestKafkaTest {};

TEST_F(IngestKafkaFaultTest, BrokerStoppedMidStreamLosesNothingAcked) {
  constexpr int kBatches = 40, kPerBatch = 250;
  grpc::ClientContext ctx;
  auto stream = stub_->IngestStream(&ctx);
  std::set<Key> acked;
  std::atomic<bool> broker_stopped{false};
  std::thread reader([&] {
    v1::BatchAck ack;
    int acks = 0;
    while (stream->Read(&ack)) {
      if (ack.status() == v1::ACK_STATUS_DURABLE) {
        for (uint32_t i = 0; i < kPerBatch; ++i) acked.insert({"client-a", ack.sequence(), i});
      }
      if (++acks == 10) {
        EXPECT_TRUE(::streammetrics::testing::KafkaNode("stop", 3).ok());
        broker_stopped = true;
      }
    }
  });
  for (int b = 1; b <= kBatches; ++b) {
    // Pace the writer behind the acks so the broker stops mid-stream, not after it.
    if (b == 20) {
      ASSERT_TRUE(::streammetrics::testing::PollUntil(absl::Seconds(120),
                                                      [&] { return broker_stopped.load(); }));
    }
    ASSERT_TRUE(stream->Write(Batch(absl::Now(), b, kPerBatch)));
  }
  stream->WritesDone();
  reader.join();
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_TRUE(::streammetrics::testing::KafkaNode("start", 3).ok());

  // With RF 3 and min ISR 2, every batch is acked despite the stopped broker...
  EXPECT_EQ(acked.size(), static_cast<size_t>(kBatches * kPerBatch));
  // ...and everything acked is on the log, exactly once.
  std::vector<ConsumedRecord> records = ConsumeAll(events_.name(), acked.size());
  std::set<Key> stored;
  for (const ConsumedRecord& r : records) stored.insert(KeyOf(r));
  EXPECT_EQ(records.size(), acked.size());
  EXPECT_EQ(stored, acked);
}

}  // namespace
}  // namespace streammetrics::ingest
