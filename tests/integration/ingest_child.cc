// IngestChild: fork/exec of the ingest binary and its health check (see the header).
#include "tests/integration/ingest_child.h"

#include <signal.h>

#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/child_process.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {

IngestChild::IngestChild(const std::string& events_topic, const std::string& dead_letter_topic,
                         std::vector<std::string> extra_flags,
                         security::ClientSecurityConfig client)
    : client_(std::move(client)),
      port_(FreePort()),
      address_(absl::StrCat("127.0.0.1:", port_)),
      metrics_address_(absl::StrCat("127.0.0.1:", FreePort())),
      otlp_address_(absl::StrCat("127.0.0.1:", FreePort())) {
  // STREAMMETRICS_TEST_INGEST_BIN runs another build of the binary (e.g. the release one, to
  // measure memory without the sanitizers' overhead).
  const char* bin = std::getenv("STREAMMETRICS_TEST_INGEST_BIN");
  args_ = {bin != nullptr && *bin != '\0' ? bin : STREAMMETRICS_INGEST_BIN,
           "--ingest_address=" + address_,
           "--ingest_metrics_address=" + metrics_address_,
           "--otlp_address=" + otlp_address_,
           "--kafka_bootstrap=" + KafkaBootstrap(),
           "--events_topic=" + events_topic,
           "--dead_letter_topic=" + dead_letter_topic};
  args_.insert(args_.end(), extra_flags.begin(), extra_flags.end());
  Start();
}

IngestChild::~IngestChild() {
  if (pid_ > 0) Stop(SIGKILL);
}

void IngestChild::Start() {
  if (pid_ <= 0) pid_ = Spawn(args_);
}

int IngestChild::Stop(int signal) {
  if (pid_ <= 0) return -1;
  const int code = StopChild(pid_, signal);
  pid_ = -1;
  return code;
}

bool IngestChild::AwaitServing(absl::Duration timeout) const {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = security::MakeChannel(address_, client_);
  if (!channel.ok()) return false;
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  return PollUntil(timeout, [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("streammetrics.v1.IngestService");
    grpc::health::v1::HealthCheckResponse response;
    return stub->Check(&ctx, request, &response).ok() &&
           response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  });
}

}  // namespace streammetrics::testing
