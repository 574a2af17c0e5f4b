// IngestService end to end in-process: a real gRPC server with the callback reactors, in front of
// FakeRecordSink, whose deliveries the tests complete by hand (a slow, failing or stalled Kafka).
#include "ingest-service/ingest_service.h"

#include <atomic>
#include <future>
#include <map>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/common/clock.h"
#include "lib/kafka/fake_record_sink.h"
#include "tests/ingest-service/test_events.h"
#include "tests/ingest-service/test_server.h"
#include "tests/support/stack.h"

namespace streammetrics::ingest {
namespace {

using testing::Batch;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

class IngestServiceTest : public ::testing::Test {
 protected:
  void Start(size_t stream_limit = 8 << 20, size_t process_limit = 256 << 20) {
    budget_ = std::make_unique<ByteBudget>(process_limit);
    deps_.sink = &sink_;
    deps_.budget = budget_.get();
    deps_.clock = &clock_;
    deps_.metrics = &metrics_;
    deps_.stream_bytes_limit = stream_limit;
    service_ = std::make_unique<IngestServiceImpl>(deps_);
    testing::TestServer served = testing::ServeInProcess(service_.get());
    ASSERT_NE(served.server, nullptr);
    server_ = std::move(served.server);
    channel_ = std::move(served.channel);
    stub_ = std::move(served.stub);
  }

  void TearDown() override {
    sink_.SetAutoComplete(true);  // nothing may stay pending, or streams could never finish
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  // Sends `batches` on StreamMetrics and returns (status, summary) once the server answered.
  std::future<std::pair<grpc::Status, v1::IngestSummary>> StreamAsync(
      std::vector<v1::MetricBatch> batches) {
    return std::async(std::launch::async, [this, batches] {
      grpc::ClientContext ctx;
      v1::IngestSummary summary;
      auto writer = stub_->StreamMetrics(&ctx, &summary);
      for (const auto& b : batches) writer->Write(b);
      writer->WritesDone();
      grpc::Status status = writer->Finish();
      return std::make_pair(status, summary);
    });
  }

  absl::Time Now() const { return clock_.Now(); }

  FakeClock clock_;
  kafka::FakeRecordSink sink_;
  IngestMetrics metrics_;
  std::unique_ptr<ByteBudget> budget_;
  IngestDeps deps_;
  std::unique_ptr<IngestServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
};

// A batch whose second event's unit holds invalid UTF-8: it does not parse on the server.
std::string MalformedBatch(absl::Time at, uint64_t sequence) {
  v1::MetricBatch b = Batch(at, sequence, 2);
  b.mutable_events(1)->set_unit("ms\xff");
  return b.SerializePartialAsString();
}

TEST_F(IngestServiceTest, SummaryCountsEveryEventAndRejection) {
  Start();
  sink_.SetAutoComplete(true);
  v1::MetricBatch empty = Batch(Now(), 3, 0);
  v1::MetricBatch no_client = Batch(Now(), 4, 2, -1, "");
  auto [status, summary] =
      StreamAsync({Batch(Now(), 1, 3), Batch(Now(), 2, 3, /*nan_at=*/1), empty, no_client}).get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.batches_received(), 4u);
  EXPECT_EQ(summary.batches_rejected(), 2u);
  EXPECT_EQ(summary.events_received(), 8u);
  EXPECT_EQ(summary.events_accepted(), 5u);
  EXPECT_EQ(summary.events_rejected(), 1u);
  ASSERT_EQ(summary.rejected_by_reason_size(), 1);
  EXPECT_EQ(summary.rejected_by_reason(0).reason(), v1::DEAD_LETTER_REASON_NON_FINITE_VALUE);
  EXPECT_EQ(summary.rejected_by_reason(0).count(), 1u);
  ASSERT_EQ(summary.first_rejections_size(), 3);
  EXPECT_EQ(summary.first_rejections(0).batch_sequence(), 2u);
  EXPECT_EQ(summary.first_rejections(0).event_index(), 1u);
  EXPECT_THAT(summary.first_rejections(0).message(), HasSubstr("value"));
  EXPECT_EQ(summary.first_rejections(1).batch_reason(), v1::BATCH_REJECT_REASON_EMPTY);
  EXPECT_EQ(summary.first_rejections(2).batch_reason(), v1::BATCH_REJECT_REASON_INVALID_CLIENT_ID);
  EXPECT_THAT(summary.first_rejections(2).message(), HasSubstr("client_id"));
  // 5 events + 1 dead letter reached the sink; the rejected batches stored nothing.
  EXPECT_EQ(sink_.Delivered().size(), 6u);
  EXPECT_EQ(metrics_.events_received(), 8);
  EXPECT_EQ(metrics_.events_accepted(), 5);
  EXPECT_EQ(metrics_.events_rejected(v1::DEAD_LETTER_REASON_NON_FINITE_VALUE), 1);
}

TEST_F(IngestServiceTest, SummaryComesOnlyAfterEveryEventIsDurable) {
  Start();
  auto answer = StreamAsync({Batch(Now(), 1, 5), Batch(Now(), 2, 5)});
  ASSERT_TRUE(sink_.AwaitPending(2, kWait));
  EXPECT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "answered before Kafka confirmed anything";
  ASSERT_TRUE(sink_.CompleteOldest());
  EXPECT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "answered with one batch still unconfirmed";
  ASSERT_TRUE(sink_.CompleteOldest());
  auto [status, summary] = answer.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.events_accepted(), 10u);
}

TEST_F(IngestServiceTest, DeliveryFailureMidStreamSaysWhatWasAndWasNotStored) {
  Start();
  auto answer = StreamAsync({Batch(Now(), 1, 3), Batch(Now(), 2, 3), Batch(Now(), 3, 3)});
  ASSERT_TRUE(sink_.AwaitPending(3, kWait));
  sink_.CompleteOldest();
  sink_.CompleteOldest([](size_t i) {
    return i == 1 ? absl::UnavailableError("Local: Message timed out") : absl::OkStatus();
  });
  sink_.CompleteOldest();
  auto [status, summary] = answer.get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("1 of 9 events were not confirmed by Kafka"));
  EXPECT_THAT(status.error_message(), HasSubstr("Message timed out"));
  EXPECT_THAT(status.error_message(), HasSubstr("8 accepted"));
  EXPECT_THAT(status.error_message(), HasSubstr("sequence 2 "));
  EXPECT_EQ(metrics_.delivery_failures(), 1);
}

TEST_F(IngestServiceTest, ARecordKafkaRefusesForGoodIsNotWorthAResend) {
  Start();
  auto refuse_second = [](size_t i) {
    return i == 1 ? absl::FailedPreconditionError("Broker: Message size too large (for good)")
                  : absl::OkStatus();
  };
  // IngestStream: a FAILED ack marked permanent.
  {
    grpc::ClientContext ctx;
    auto stream = stub_->IngestStream(&ctx);
    ASSERT_TRUE(stream->Write(Batch(Now(), 1, 3)));
    ASSERT_TRUE(sink_.AwaitPending(1, kWait));
    sink_.CompleteOldest(refuse_second);
    v1::BatchAck ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.status(), v1::ACK_STATUS_FAILED);
    EXPECT_TRUE(ack.permanent());
    EXPECT_EQ(ack.events_failed(), 1u);
    EXPECT_THAT(ack.error(), HasSubstr("refused by Kafka for good"));
    EXPECT_THAT(ack.error(), HasSubstr("resending this batch fails the same way"));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  // StreamMetrics: FAILED_PRECONDITION, which clients do not retry.
  auto answer = StreamAsync({Batch(Now(), 1, 3), Batch(Now(), 2, 3)});
  ASSERT_TRUE(sink_.AwaitPending(2, kWait));
  sink_.CompleteOldest();
  sink_.CompleteOldest(refuse_second);
  auto [status, summary] = answer.get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("1 of 6 events were refused by Kafka for good"));
  EXPECT_THAT(status.error_message(), HasSubstr("sequence 2"));
  EXPECT_EQ(metrics_.records_refused(), 2);
  EXPECT_EQ(metrics_.delivery_failures(), 2);
}

TEST_F(IngestServiceTest, BatchLatencyIsMeasuredFromReadToAnswerAndOverKafka) {
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->IngestStream(&ctx);
  ASSERT_TRUE(stream->Write(Batch(Now(), 1, 2)));
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  clock_.Advance(absl::Milliseconds(40));  // Kafka takes 40 ms (on the injected clock)
  sink_.CompleteOldest();
  v1::BatchAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  // A batch refused whole is answered at once: an answer of 0 s.
  ASSERT_TRUE(stream->Write(Batch(Now(), 2, 0)));
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_REJECTED);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(metrics_.batch_latency("kafka"), (std::pair<uint64_t, double>{1, 0.04}));
  EXPECT_EQ(metrics_.batch_latency("answer"), (std::pair<uint64_t, double>{2, 0.04}));
}

TEST_F(IngestServiceTest, IngestStreamAcksEachBatchAsSoonAsItIsFinal) {
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->IngestStream(&ctx);
  v1::BatchAck ack;

  ASSERT_TRUE(stream->Write(Batch(Now(), 1, 4, /*nan_at=*/0)));
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  sink_.CompleteOldest();
  // The ack of batch 1 arrives while the stream is still open: no waiting for the end.
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.sequence(), 1u);
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_DURABLE);
  EXPECT_EQ(ack.events_accepted(), 3u);
  EXPECT_EQ(ack.events_rejected(), 1u);
  ASSERT_EQ(ack.rejections_size(), 1);
  EXPECT_EQ(ack.rejections(0).reason(), v1::DEAD_LETTER_REASON_NON_FINITE_VALUE);

  ASSERT_TRUE(stream->Write(Batch(Now(), 2, 2)));
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  sink_.CompleteOldest([](size_t i) {
    return i == 0 ? absl::UnavailableError("Broker: Not enough in-sync replicas")
                  : absl::OkStatus();
  });
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.sequence(), 2u);
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_FAILED);
  EXPECT_EQ(ack.events_failed(), 1u);
  EXPECT_EQ(ack.events_accepted(), 1u);
  EXPECT_THAT(ack.error(), HasSubstr("resend this batch"));

  ASSERT_TRUE(stream->Write(Batch(Now(), 0, 2)));  // sequence 0: refused whole, at once
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_REJECTED);
  EXPECT_EQ(ack.batch_reject_reason(), v1::BATCH_REJECT_REASON_INVALID_SEQUENCE);
  EXPECT_EQ(sink_.PendingBatches(), 0u);

  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&ack));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(IngestServiceTest, AMalformedBatchIsRejectedAndTheBatchesAfterItAreStored) {
  Start();
  sink_.SetAutoComplete(true);
  grpc::ClientContext ctx;
  auto stream = testing::RawIngestStream(channel_.get(), &ctx);
  ASSERT_TRUE(stream->Write(testing::Message(Batch(Now(), 1, 3).SerializeAsString())));
  ASSERT_TRUE(stream->Write(testing::Message(MalformedBatch(Now(), 2))));
  ASSERT_TRUE(stream->Write(testing::Message(std::string("\x0a\xff\xff", 3))));  // garbage
  ASSERT_TRUE(stream->Write(testing::Message(Batch(Now(), 4, 3).SerializeAsString())));
  stream->WritesDone();
  std::map<uint64_t, v1::BatchAck> acks = testing::ReadAcksBySequence(stream.get());
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_EQ(acks.size(), 4u);  // 1, 2, 4 and 0 (the garbage, which names no sequence)
  EXPECT_EQ(acks[1].status(), v1::ACK_STATUS_DURABLE);
  EXPECT_EQ(acks[4].status(), v1::ACK_STATUS_DURABLE);
  for (uint64_t seq : {0, 2}) {
    EXPECT_EQ(acks[seq].status(), v1::ACK_STATUS_REJECTED);
    EXPECT_EQ(acks[seq].batch_reject_reason(), v1::BATCH_REJECT_REASON_MALFORMED);
    EXPECT_THAT(acks[seq].error(), HasSubstr("does not parse"));
  }
  EXPECT_THAT(acks[2].error(), HasSubstr("streammetrics.v1.MetricEvent.unit"));
  EXPECT_EQ(sink_.Delivered().size(), 6u);
  EXPECT_EQ(metrics_.batches_rejected(v1::BATCH_REJECT_REASON_MALFORMED), 2);
}

TEST_F(IngestServiceTest, StreamMetricsSummarizesAMalformedBatchAndStoresTheOthers) {
  Start();
  sink_.SetAutoComplete(true);
  grpc::ClientContext ctx;
  grpc::ByteBuffer response;
  auto writer = testing::RawStreamMetrics(channel_.get(), &ctx, &response);
  ASSERT_TRUE(writer->Write(testing::Message(Batch(Now(), 1, 3).SerializeAsString())));
  ASSERT_TRUE(writer->Write(testing::Message(MalformedBatch(Now(), 2))));
  ASSERT_TRUE(writer->Write(testing::Message(Batch(Now(), 3, 3).SerializeAsString())));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  v1::IngestSummary summary;
  ASSERT_TRUE(grpc::SerializationTraits<v1::IngestSummary>::Deserialize(&response, &summary).ok());
  EXPECT_EQ(summary.batches_received(), 3u);
  EXPECT_EQ(summary.batches_rejected(), 1u);
  EXPECT_EQ(summary.events_accepted(), 6u);
  ASSERT_EQ(summary.first_rejections_size(), 1);
  EXPECT_EQ(summary.first_rejections(0).batch_sequence(), 2u);
  EXPECT_EQ(summary.first_rejections(0).batch_reason(), v1::BATCH_REJECT_REASON_MALFORMED);
  EXPECT_THAT(summary.first_rejections(0).message(), HasSubstr("invalid UTF-8"));
  EXPECT_EQ(sink_.Delivered().size(), 6u);
}

TEST_F(IngestServiceTest, AClientThatDoesNotReadItsAcksStopsTheStreamReadingUntilItDoes) {
  deps_.stream_unread_ack_bytes_limit = 16 << 10;
  Start();
  grpc::ClientContext ctx;
  auto stream = testing::RawIngestStream(channel_.get(), &ctx);
  // Garbage answered by a REJECTED ack each (about 200 bytes): acks without Kafka in between.
  // The writer sends until the server stops reading; then its Write blocks on flow control.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    const grpc::ByteBuffer garbage = testing::Message(std::string("\x0a\xff\xff", 3));
    while (!stop && written < 1'000'000 && stream->Write(garbage)) ++written;
    stream->WritesDone();
  });
  EXPECT_TRUE(
      ::streammetrics::testing::PollUntil(kWait, [&] { return metrics_.unread_ack_holds() >= 1; }));
  stop = true;
  // Reading the acks lifts the hold: every batch read gets its ack, in order, and the stream
  // ends normally.
  uint64_t acks = 0;
  grpc::ByteBuffer bytes;
  while (stream->Read(&bytes)) {
    v1::BatchAck ack;
    ASSERT_TRUE(grpc::SerializationTraits<v1::BatchAck>::Deserialize(&bytes, &ack).ok());
    EXPECT_EQ(ack.batch_reject_reason(), v1::BATCH_REJECT_REASON_MALFORMED);
    ++acks;
  }
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(acks, written.load());
  EXPECT_EQ(metrics_.batches_received(), written.load());
}

TEST_F(IngestServiceTest, StreamStopsReadingWhileItsBudgetIsSpent) {
  Start(/*stream_limit=*/1);  // any batch in flight fills the stream's budget
  auto answer = StreamAsync({Batch(Now(), 1, 5), Batch(Now(), 2, 5), Batch(Now(), 3, 5)});
  for (int delivered = 0; delivered < 3; ++delivered) {
    ASSERT_TRUE(sink_.AwaitPending(1, kWait));
    // While one batch is unconfirmed the stream reads nothing more: the client's further batches
    // stay in gRPC's flow-control window, not in our memory.
    EXPECT_EQ(sink_.PendingBatches(), 1u);
    EXPECT_EQ(metrics_.batches_received(), delivered + 1);
    sink_.CompleteOldest();
  }
  auto [status, summary] = answer.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.events_accepted(), 15u);
  EXPECT_EQ(budget_->used(), 0u);
}

TEST_F(IngestServiceTest, ProcessBudgetIsSharedByAllStreams) {
  Start(/*stream_limit=*/8 << 20, /*process_limit=*/1);
  auto a = StreamAsync({Batch(Now(), 1, 5, -1, "a"), Batch(Now(), 2, 5, -1, "a")});
  auto b = StreamAsync({Batch(Now(), 1, 5, -1, "b"), Batch(Now(), 2, 5, -1, "b")});
  for (int delivered = 0; delivered < 4; ++delivered) {
    ASSERT_TRUE(sink_.AwaitPending(1, kWait));
    // The budget is spent by any batch in flight: each stream may have read one batch past it
    // (the documented overshoot), never a second one.
    EXPECT_LE(sink_.PendingBatches(), 2u);
    EXPECT_LE(metrics_.batches_received(), delivered + 2);
    sink_.CompleteOldest();
  }
  EXPECT_TRUE(a.get().first.ok());
  EXPECT_TRUE(b.get().first.ok());
  EXPECT_EQ(sink_.Delivered().size(), 20u);
}

TEST_F(IngestServiceTest, ShutdownLetsOpenStreamsFinishAndRefusesNewOnes) {
  Start();
  auto answer = StreamAsync({Batch(Now(), 1, 4), Batch(Now(), 2, 4)});
  ASSERT_TRUE(sink_.AwaitPending(2, kWait));
  std::thread shutdown(
      [this] { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(30)); });
  // A new stream is refused while the open one drains.
  ASSERT_TRUE(::streammetrics::testing::PollUntil(kWait, [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::IngestSummary s;
    auto w = stub_->StreamMetrics(&ctx, &s);
    w->WritesDone();
    return !w->Finish().ok();
  }));
  sink_.CompleteAll();
  shutdown.join();
  auto [status, summary] = answer.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.events_accepted(), 8u);
  EXPECT_TRUE(sink_.Flush(absl::Seconds(1)).ok());
  server_.reset();
}

TEST_F(IngestServiceTest, CancelledStreamEndsOnceItsBatchesAreFinal) {
  Start();
  auto ctx = std::make_unique<grpc::ClientContext>();
  v1::IngestSummary summary;
  auto writer = stub_->StreamMetrics(ctx.get(), &summary);
  ASSERT_TRUE(writer->Write(Batch(Now(), 1, 3)));
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  ctx->TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(metrics_.open_streams(), 1) << "the reactor must wait for its pending batch";
  sink_.CompleteAll();
  ASSERT_TRUE(
      ::streammetrics::testing::PollUntil(kWait, [&] { return metrics_.open_streams() == 0; }));
  EXPECT_EQ(budget_->used(), 0u);
}

// A cancel that arrives while the batch is being handed to the sink, with the batch delivered
// before the handover returns: the reading thread's own bookkeeping is then the last event of the
// stream, and must finish it (it used to leave the stream open for good).
TEST_F(IngestServiceTest, CancelAndLastDeliveryDuringTheHandoverStillFinishTheStream) {
  Start();
  auto ctx = std::make_unique<grpc::ClientContext>();
  v1::IngestSummary summary;
  sink_.SetOnSend([&] {
    sink_.SetOnSend(nullptr);
    ctx->TryCancel();
    // On the server's thread: EXPECT, not ASSERT (which would only leave the lambda).
    EXPECT_TRUE(::streammetrics::testing::PollUntil(
        kWait, [&] { return metrics_.streams_cancelled() == 1; }));
    sink_.CompleteAll();
    EXPECT_TRUE(::streammetrics::testing::PollUntil(kWait, [&] { return budget_->used() == 0; }));
  });
  auto writer = stub_->StreamMetrics(ctx.get(), &summary);
  // The hook may cancel the call before this write reports completion: its result says nothing.
  (void)writer->Write(Batch(Now(), 1, 3));
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(
      ::streammetrics::testing::PollUntil(kWait, [&] { return metrics_.open_streams() == 0; }));
  EXPECT_EQ(sink_.Delivered().size(), 3u);  // the batch did reach the sink: the staging happened
}

}  // namespace
}  // namespace streammetrics::ingest
