// MetricsClient against the real IngestServiceImpl served in process over a FakeRecordSink:
// counting, batching, FAILED resends, rejected batches, backpressure, Flush and Close.
#include "lib/client/metrics_client.h"

#include <future>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/idempotency_key.h"
#include "tests/lib/client/client_test_util.h"
#include "tests/lib/client/in_process_ingest.h"
#include "tests/support/stack.h"

namespace streammetrics::client {
namespace {

using ::streammetrics::testing::FreePort;
using ::streammetrics::testing::PollUntil;
using testing::AckLog;
using testing::Event;
using ::testing::HasSubstr;
using testing::InProcessIngest;
using testing::kWait;
using testing::Options;

std::string Header(const kafka::Record& r, absl::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class MetricsClientTest : public ::testing::Test {
 protected:
  void Serve(bool auto_complete, size_t server_max_batch = 1000) {
    port_ = FreePort();
    server_ = std::make_unique<InProcessIngest>(port_, auto_complete, server_max_batch);
    ASSERT_TRUE(server_->ok());
  }
  std::unique_ptr<MetricsClient> Client(MetricsClientOptions o) {
    auto client = MetricsClient::Create(std::move(o));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  int port_ = 0;
  std::unique_ptr<InProcessIngest> server_;
  AckLog log_;
};

TEST_F(MetricsClientTest, EveryEventSentIsAckedExactlyOnceAndCounted) {
  Serve(/*auto_complete=*/true);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 100;
  auto client = Client(o);
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 4, kPerThread = 2500;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        // Every 100th event is invalid: dead-lettered, still durable and counted.
        EXPECT_TRUE(client->Send(Event(n, n % 100 == 0 ? -1 : 10), kWait).ok());
      }
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_TRUE(client->Flush(kWait).ok());
  MetricsClient::Stats s = client->stats();
  EXPECT_EQ(s.events_sent, 10000u);
  EXPECT_EQ(s.events_acked_durable, 10000u);
  EXPECT_EQ(s.events_accepted, 9900u);
  EXPECT_EQ(s.events_rejected, 100u);
  EXPECT_EQ(s.events_in_flight, 0u);
  EXPECT_EQ(s.batches_sent, 100u);
  EXPECT_EQ(s.batches_acked_durable, 100u);
  EXPECT_EQ(s.batches_resent, 0u);
  // One durable ack per batch, each sequence once, events adding up.
  std::map<uint64_t, int> acks_per_sequence;
  uint64_t acked_events = 0;
  for (const v1::BatchAck& a : log_.acks()) {
    EXPECT_EQ(a.status(), v1::ACK_STATUS_DURABLE);
    ++acks_per_sequence[a.sequence()];
    acked_events += a.events_accepted() + a.events_rejected();
  }
  EXPECT_EQ(acked_events, 10000u);
  ASSERT_EQ(acks_per_sequence.size(), 100u);
  EXPECT_EQ(acks_per_sequence.begin()->first, 1u);
  for (const auto& [sequence, count] : acks_per_sequence) EXPECT_EQ(count, 1) << sequence;
  // The sink stored every idempotency key once.
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& r : server_->fake().Delivered()) {
    keys.emplace(Header(r, events::kHeaderSequence), Header(r, events::kHeaderEventIndex));
  }
  EXPECT_EQ(keys.size(), 10000u);
  EXPECT_EQ(server_->fake().Delivered().size(), 10000u);
  EXPECT_TRUE(client->Close(kWait).ok());
  EXPECT_EQ(client->stats().stream_failures, 0u);
}

TEST_F(MetricsClientTest, FullBatchesGoOutWithoutWaitingForTheTimer) {
  Serve(/*auto_complete=*/true);
  MetricsClientOptions o = Options(port_, &log_);  // max_batch_delay: 1 hour
  o.max_batch_events = 5;
  auto client = Client(o);
  for (int i = 0; i < 17; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  // Only size can have sealed these within the deadline.
  ASSERT_TRUE(PollUntil(kWait, [&] { return client->stats().events_acked_durable == 15; }));
  EXPECT_EQ(server_->sequences(), (std::vector<uint64_t>{1, 2, 3}));
  for (const v1::BatchAck& a : log_.acks()) EXPECT_EQ(a.events_accepted(), 5u);
  EXPECT_EQ(client->stats().events_in_flight, 2u) << "the partial batch waits for its timer";
  ASSERT_TRUE(client->Flush(kWait).ok());
  EXPECT_EQ(server_->sequences(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(log_.acks().back().events_accepted(), 2u);
  EXPECT_EQ(log_.batch_sizes(), (std::vector<int>{5, 5, 5, 2})) << "each ack comes with its batch";
}

TEST_F(MetricsClientTest, APartialBatchGoesOutOnceItsDelayPassed) {
  Serve(/*auto_complete=*/true);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 1000;
  o.max_batch_delay = absl::Milliseconds(20);
  auto client = Client(o);
  const absl::Time before = absl::Now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  // No Flush and far from full: only the timer can send it.
  ASSERT_TRUE(PollUntil(kWait, [&] { return client->stats().events_acked_durable == 3; }));
  ASSERT_EQ(log_.acks().size(), 1u);
  EXPECT_EQ(log_.acks()[0].events_accepted(), 3u);
  // The batch was written no earlier than its delay after the first event.
  EXPECT_GE(log_.first_sent()[0] - before, absl::Milliseconds(20));
}

TEST_F(MetricsClientTest, FailedAckIsResentWithTheSameSequenceAndEvents) {
  Serve(/*auto_complete=*/false);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 4;
  auto client = Client(o);
  std::vector<v1::MetricEvent> sent;
  for (int i = 0; i < 4; ++i) {
    sent.push_back(Event(i, 10 + i));
    ASSERT_TRUE(client->Send(sent.back(), kWait).ok());
  }
  kafka::FakeRecordSink& sink = server_->fake();
  ASSERT_TRUE(sink.AwaitPending(1, kWait));
  sink.CompleteOldest([](size_t i) {
    return i == 1 ? absl::UnavailableError("Broker: Not enough in-sync replicas")
                  : absl::OkStatus();
  });
  ASSERT_TRUE(sink.AwaitPending(1, kWait)) << "the client did not resend";
  sink.CompleteOldest();
  ASSERT_TRUE(client->Flush(kWait).ok());
  EXPECT_EQ(server_->sequences(), (std::vector<uint64_t>{1, 1}));
  std::vector<v1::BatchAck> acks = log_.acks();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].status(), v1::ACK_STATUS_FAILED);
  EXPECT_EQ(acks[1].status(), v1::ACK_STATUS_DURABLE);
  EXPECT_EQ(acks[1].sequence(), 1u);
  EXPECT_EQ(log_.first_sent()[0], log_.first_sent()[1]) << "latency counts from the first write";
  // The resend carried the same events in the same order: index i holds event i both times.
  int resent_records = 0;
  for (const auto& r : sink.Delivered()) {
    size_t index = 0;
    ASSERT_TRUE(absl::SimpleAtoi(Header(r, events::kHeaderEventIndex), &index));
    ASSERT_LT(index, sent.size());
    EXPECT_EQ(r.value, sent[index].SerializeAsString());
    ++resent_records;
  }
  EXPECT_EQ(resent_records, 3 + 4);
  MetricsClient::Stats s = client->stats();
  EXPECT_EQ(s.batches_failed, 1u);
  EXPECT_EQ(s.batches_resent, 1u);
  EXPECT_EQ(s.events_acked_durable, 4u);
}

TEST_F(MetricsClientTest, ABatchFailingForGoodIsReportedNotResent) {
  Serve(/*auto_complete=*/false);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 2;
  auto client = Client(o);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  kafka::FakeRecordSink& sink = server_->fake();
  ASSERT_TRUE(sink.AwaitPending(1, kWait));
  sink.CompleteOldest([](size_t i) {
    return i == 0 ? absl::FailedPreconditionError("Broker: Message size too large")
                  : absl::OkStatus();
  });
  absl::Status flushed = client->Flush(kWait);
  EXPECT_EQ(flushed.code(), absl::StatusCode::kDataLoss) << flushed;
  EXPECT_THAT(flushed.message(), HasSubstr("2 events were given up"));
  EXPECT_THAT(flushed.message(), HasSubstr("Message size too large"));
  EXPECT_EQ(server_->sequences(), (std::vector<uint64_t>{1})) << "not resent";
  MetricsClient::Stats s = client->stats();
  EXPECT_EQ(s.batches_abandoned, 1u);
  EXPECT_EQ(s.events_in_abandoned_batches, 2u);
  EXPECT_EQ(s.events_in_flight, 0u);
  // The next batch is not held up by it.
  for (int i = 2; i < 4; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  ASSERT_TRUE(sink.AwaitPending(1, kWait));
  sink.CompleteOldest();
  EXPECT_TRUE(client->Flush(kWait).ok());
}

TEST_F(MetricsClientTest, ABatchThatKeepsFailingIsGivenUpAfterMaxFailedAcks) {
  Serve(/*auto_complete=*/false);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 1;
  o.max_failed_acks = 3;
  auto client = Client(o);
  ASSERT_TRUE(client->Send(Event(0), kWait).ok());
  kafka::FakeRecordSink& sink = server_->fake();
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(sink.AwaitPending(1, kWait)) << "attempt " << attempt;
    sink.CompleteOldest([](size_t) { return absl::UnavailableError("Local: Message timed out"); });
  }
  EXPECT_EQ(client->Flush(kWait).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(server_->sequences(), (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(client->stats().batches_abandoned, 1u);
  EXPECT_THAT(client->stats().last_abandon_error, HasSubstr("Message timed out"));
}

TEST_F(MetricsClientTest, AnEventWithInvalidUtf8IsRefusedAndItsBatchGoesOutWithoutIt) {
  Serve(/*auto_complete=*/true);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 2;
  auto client = Client(o);
  ASSERT_TRUE(client->Send(Event(0), kWait).ok());
  v1::MetricEvent bad = Event(1);
  bad.set_unit("ms\xff");
  absl::Status refused = client->Send(bad, kWait);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("unit is not valid UTF-8"));
  ASSERT_TRUE(client->Send(Event(2), kWait).ok());
  ASSERT_TRUE(client->Flush(kWait).ok());
  MetricsClient::Stats s = client->stats();
  EXPECT_EQ(s.events_sent, 2u);
  EXPECT_EQ(s.events_accepted, 2u);
  EXPECT_EQ(s.batches_rejected, 0u);
}

TEST_F(MetricsClientTest, RejectedBatchIsDoneCountedAndNotResent) {
  Serve(/*auto_complete=*/true, /*server_max_batch=*/3);
  MetricsClientOptions o = Options(port_, &log_);
  o.max_batch_events = 5;
  auto client = Client(o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  ASSERT_TRUE(client->Flush(kWait).ok()) << "a rejected batch is final";
  MetricsClient::Stats s = client->stats();
  EXPECT_EQ(s.batches_rejected, 1u);
  EXPECT_EQ(s.events_in_rejected_batches, 5u);
  EXPECT_EQ(s.events_acked_durable, 0u);
  EXPECT_EQ(s.events_in_flight, 0u);
  EXPECT_EQ(s.batches_resent, 0u);
  EXPECT_THAT(s.last_rejection, HasSubstr("batch has 5 events"));
  ASSERT_EQ(log_.acks().size(), 1u);
  EXPECT_EQ(log_.acks()[0].batch_reject_reason(), v1::BATCH_REJECT_REASON_TOO_MANY_EVENTS);
}

TEST_F(MetricsClientTest, FullBufferBlocksSendUntilAnAckMakesRoom) {
  Serve(/*auto_complete=*/false);
  MetricsClientOptions o = Options(port_);
  o.max_batch_events = 5;
  o.max_buffered_events = 10;
  auto client = Client(o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client->Send(Event(i), absl::ZeroDuration()).ok());
  absl::Status full = client->Send(Event(10), absl::Milliseconds(50));
  EXPECT_EQ(full.code(), absl::StatusCode::kDeadlineExceeded) << full;
  EXPECT_THAT(full.message(), HasSubstr("10 events"));
  EXPECT_EQ(client->stats().events_sent, 10u);

  auto blocked = std::async(std::launch::async, [&] { return client->Send(Event(11), kWait); });
  ASSERT_TRUE(server_->fake().AwaitPending(2, kWait));
  EXPECT_EQ(blocked.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(client->stats().events_sent, 10u) << "Send queued past the bound";
  server_->fake().CompleteOldest();  // 5 events acked: room
  EXPECT_TRUE(blocked.get().ok());
  EXPECT_EQ(client->stats().events_sent, 11u);
  EXPECT_EQ(client->stats().events_in_flight, 6u);
}

TEST_F(MetricsClientTest, FlushWaitsForEveryAck) {
  Serve(/*auto_complete=*/false);
  auto client = Client(Options(port_));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  absl::Status early = client->Flush(absl::ZeroDuration());
  EXPECT_EQ(early.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(early.message(), HasSubstr("3 events unacknowledged"));

  auto flushed = std::async(std::launch::async, [&] { return client->Flush(kWait); });
  ASSERT_TRUE(server_->fake().AwaitPending(1, kWait));  // the partial batch went out at once
  EXPECT_EQ(flushed.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(client->stats().events_in_flight, 3u);
  server_->fake().CompleteOldest();
  EXPECT_TRUE(flushed.get().ok());
  EXPECT_EQ(client->stats().events_acked_durable, 3u);
}

TEST_F(MetricsClientTest, CloseFlushesEndsTheStreamAndIsIdempotent) {
  Serve(/*auto_complete=*/true);
  auto client = Client(Options(port_));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  EXPECT_TRUE(client->Close(kWait).ok());
  EXPECT_EQ(client->stats().events_acked_durable, 5u);
  EXPECT_EQ(client->stats().stream_failures, 0u) << "the server ended the stream cleanly";
  EXPECT_TRUE(client->Close(kWait).ok());
  EXPECT_TRUE(client->Close(absl::ZeroDuration()).ok());
  EXPECT_EQ(client->Send(Event(5), kWait).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client->Flush(absl::ZeroDuration()).ok());
}

TEST_F(MetricsClientTest, CloseTimesOutWhenNothingIsAcked) {
  Serve(/*auto_complete=*/false);
  auto client = Client(Options(port_));
  ASSERT_TRUE(client->Send(Event(0), kWait).ok());
  absl::Status closed = client->Close(absl::Milliseconds(50));
  EXPECT_EQ(closed.code(), absl::StatusCode::kDeadlineExceeded) << closed;
  EXPECT_EQ(client->Close(kWait).code(), absl::StatusCode::kDeadlineExceeded) << "first result";
}

TEST(MetricsClientCreateTest, RefusesInvalidOptions) {
  for (const std::string& id : {std::string(), std::string(129, 'x'), std::string("bad\x01id")}) {
    MetricsClientOptions o;
    o.client_id = id;
    EXPECT_EQ(MetricsClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  }
  MetricsClientOptions o;
  o.client_id = "ok";
  o.max_batch_events = 0;
  EXPECT_EQ(MetricsClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.max_batch_events = 1;
  o.first_sequence = 0;
  EXPECT_EQ(MetricsClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.first_sequence = 1;
  o.max_failed_acks = 0;
  EXPECT_EQ(MetricsClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace streammetrics::client
