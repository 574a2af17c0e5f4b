// MetricsClient across a server restart: the ingest server is stopped mid-stream with batches
// unacked and started again on the same port; the client must reconnect and resend exactly the
// unacked batches, in order, with their original sequences. Also: the default first sequence.
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/client/metrics_client.h"
#include "tests/lib/client/client_test_util.h"
#include "tests/lib/client/in_process_ingest.h"
#include "tests/support/stack.h"

namespace streammetrics::client {
namespace {

using ::streammetrics::testing::FreePort;
using ::streammetrics::testing::PollUntil;
using testing::AckLog;
using testing::Event;
using testing::InProcessIngest;
using testing::kWait;
using testing::Options;

TEST(MetricsClientReconnectTest, ResendsExactlyTheUnackedBatchesAfterTheServerRestarts) {
  const int port = FreePort();
  auto first = std::make_unique<InProcessIngest>(port, /*auto_complete=*/false);
  ASSERT_TRUE(first->ok());
  AckLog log;
  MetricsClientOptions o = Options(port, &log);
  o.max_batch_events = 2;
  auto created = MetricsClient::Create(o);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<MetricsClient> client = std::move(*created);

  for (int i = 0; i < 6; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());  // batches 1..3
  ASSERT_TRUE(first->fake().AwaitPending(3, kWait));
  first->fake().CompleteOldest();  // batch 1 is durable and acked
  ASSERT_TRUE(PollUntil(kWait, [&] { return client->stats().batches_acked_durable == 1; }));

  // Stop the server: its streams are cancelled at once, so batches 2 and 3 become durable with
  // their acks lost. Shutdown returns once their deliveries complete.
  std::thread stop([&] { first->Stop(absl::ZeroDuration()); });
  ASSERT_TRUE(PollUntil(kWait, [&] { return client->stats().stream_failures >= 1; }));
  first->fake().CompleteAll();
  stop.join();
  EXPECT_EQ(first->sequences(), (std::vector<uint64_t>{1, 2, 3}));
  first.reset();

  auto second = std::make_unique<InProcessIngest>(port, /*auto_complete=*/true);
  ASSERT_TRUE(second->ok()) << "port " << port << " could not be bound again";
  ASSERT_TRUE(client->Flush(kWait).ok());
  EXPECT_EQ(second->sequences(), (std::vector<uint64_t>{2, 3}));

  // New batches continue the sequence on the new stream.
  for (int i = 6; i < 8; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  ASSERT_TRUE(client->Flush(kWait).ok());
  EXPECT_EQ(second->sequences(), (std::vector<uint64_t>{2, 3, 4}));

  MetricsClient::Stats s = client->stats();
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_EQ(s.batches_resent, 2u);
  EXPECT_EQ(s.events_sent, 8u);
  EXPECT_EQ(s.events_acked_durable, 8u);
  EXPECT_EQ(s.events_in_flight, 0u);
  std::vector<uint64_t> acked;
  for (const v1::BatchAck& a : log.acks()) acked.push_back(a.sequence());
  EXPECT_EQ(acked, (std::vector<uint64_t>{1, 2, 3, 4})) << "each batch acked once";
  EXPECT_TRUE(client->Close(kWait).ok());
}

TEST(MetricsClientReconnectTest, SendsBufferedEventsOnceTheServerComesUp) {
  const int port = FreePort();
  MetricsClientOptions o = Options(port);
  o.max_batch_events = 3;
  auto created = MetricsClient::Create(o);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<MetricsClient> client = std::move(*created);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(client->Send(Event(i), kWait).ok());
  // Nothing listens yet: the attempts fail and back off.
  ASSERT_TRUE(PollUntil(kWait, [&] { return client->stats().stream_failures >= 2; }));
  InProcessIngest server(port, /*auto_complete=*/true);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(client->Flush(kWait).ok());
  EXPECT_EQ(server.sequences(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(client->stats().events_acked_durable, 7u);
  EXPECT_TRUE(client->Close(kWait).ok());
}

TEST(MetricsClientReconnectTest, DefaultFirstSequenceIsTheWallClockInMicroseconds) {
  const int port = FreePort();
  InProcessIngest server(port, /*auto_complete=*/true);
  ASSERT_TRUE(server.ok());
  MetricsClientOptions o = Options(port);
  o.first_sequence.reset();
  const auto before = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  auto created = MetricsClient::Create(o);
  const auto after = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE((*created)->Send(Event(0), kWait).ok());
  ASSERT_TRUE((*created)->Flush(kWait).ok());
  ASSERT_EQ(server.sequences().size(), 1u);
  EXPECT_GE(server.sequences()[0], before);
  EXPECT_LE(server.sequences()[0], after);
}

}  // namespace
}  // namespace streammetrics::client
