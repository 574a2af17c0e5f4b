// The streammetrics-ingest binary itself: it starts against the real cluster, reports SERVING,
// and on SIGTERM stops accepting new RPCs, lets the open stream finish, flushes Kafka and exits 0,
// with every event of that stream stored.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "streammetrics/v1/ingest.grpc.pb.h"
#include "tests/ingest-service/test_events.h"
#include "tests/support/child_process.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::ingest {
namespace {

using ::streammetrics::testing::FreePort;
using ::streammetrics::testing::PollUntil;
using ::streammetrics::testing::ScopedTopic;

grpc::health::v1::HealthCheckResponse::ServingStatus Health(grpc::Channel* channel) {
  auto stub = grpc::health::v1::Health::NewStub(
      std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("streammetrics.v1.IngestService");
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&ctx, request, &response).ok()) {
    return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }
  return response.status();
}

TEST(IngestBinaryTest, SigtermFinishesTheOpenStreamFlushesAndExitsZero) {
  ScopedTopic events("it-bin-events", 6), dead("it-bin-dead", 3);
  ASSERT_TRUE(events.ok() && dead.ok());
  const std::string address = absl::StrCat("127.0.0.1:", FreePort());
  const std::vector<std::string> args = {
      STREAMMETRICS_INGEST_BIN,
      "--ingest_address=" + address,
      absl::StrCat("--ingest_metrics_address=127.0.0.1:", FreePort()),
      absl::StrCat("--otlp_address=127.0.0.1:", FreePort()),
      "--kafka_bootstrap=" + ::streammetrics::testing::KafkaBootstrap(),
      "--events_topic=" + events.name(),
      "--dead_letter_topic=" + dead.name()};
  const pid_t pid = ::streammetrics::testing::Spawn(args);
  ASSERT_GE(pid, 0);
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(PollUntil(absl::Seconds(60), [&] {
    return Health(channel.get()) == grpc::health::v1::HealthCheckResponse::SERVING;
  })) << "the service did not become SERVING";

  auto stub = v1::IngestService::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->IngestStream(&ctx);
  uint32_t accepted = 0;
  auto send_and_ack = [&](int sequence) {
    ASSERT_TRUE(stream->Write(testing::Batch(absl::Now(), sequence, 200)));
    v1::BatchAck ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.status(), v1::ACK_STATUS_DURABLE);
    accepted += ack.events_accepted();
  };
  // An ack proves the server holds the stream: only then is it an open stream at SIGTERM (a call
  // still in flight to the server at that moment is refused like any new one).
  for (int b = 1; b <= 5; ++b) send_and_ack(b);

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  // New RPCs are refused from now on (the health check is one)...
  ASSERT_TRUE(PollUntil(absl::Seconds(30), [&] {
    return Health(channel.get()) != grpc::health::v1::HealthCheckResponse::SERVING;
  }));
  // ...while the open stream still goes through to its end.
  for (int b = 6; b <= 7; ++b) send_and_ack(b);
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(accepted, 1400u);

  int wstatus = 0;
  ASSERT_TRUE(PollUntil(absl::Seconds(60), [&] { return waitpid(pid, &wstatus, WNOHANG) == pid; }))
      << "the service did not exit after SIGTERM";
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  EXPECT_EQ(::streammetrics::testing::ConsumeAll(events.name(), 1400).size(), 1400u);
}

}  // namespace
}  // namespace streammetrics::ingest
