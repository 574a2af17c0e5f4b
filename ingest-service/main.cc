// streammetrics-ingest: wires configuration, the Kafka sink, metrics and the gRPC server, then
// serves until SIGTERM/SIGINT: stop accepting, let open streams finish, flush Kafka, exit.
#include <csignal>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "ingest-service/byte_budget.h"
#include "ingest-service/ingest_config.h"
#include "ingest-service/ingest_metrics.h"
#include "ingest-service/ingest_service.h"
#include "ingest-service/kafka_event_sink.h"
#include "lib/common/clock.h"
#include "lib/common/log.h"
#include "lib/common/metrics_exposer.h"
#include "lib/common/stop_signals.h"

namespace {

constexpr char kServiceName[] = "streammetrics.v1.IngestService";

int Run(int argc, char** argv) {
  using namespace streammetrics;
  using namespace streammetrics::ingest;

  // Before any thread starts: they inherit the blocked mask, and main waits for the signals.
  const StopSignals stop_signals = StopSignals::Block();

  absl::StatusOr<IngestConfig> config = LoadIngestConfig(argc, argv);
  if (absl::IsCancelled(config.status())) return 0;  // --help
  if (!config.ok()) {
    SM_LOG(Error, "config_invalid").Kv("status", config.status().ToString());
    return 2;
  }

  IngestMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer = StartExposer(config->metrics_address);
  if (exposer == nullptr) return 1;
  exposer->RegisterCollectable(metrics.registry());

  std::atomic<grpc::HealthCheckServiceInterface*> health{nullptr};
  KafkaSinkHooks hooks;
  hooks.on_delivery = [&metrics](Destination d, absl::Duration latency, bool ok) {
    metrics.Delivered(d, latency, ok);
  };
  hooks.on_health = [&metrics, &health](bool serving, const std::string& reason) {
    metrics.SetServing(serving);
    if (auto* h = health.load()) {
      h->SetServingStatus(kServiceName, serving);
      h->SetServingStatus(serving);
    }
    SM_LOG(Warn, "health_changed").Kv("serving", serving).Kv("reason", reason);
  };
  absl::StatusOr<std::unique_ptr<KafkaEventSink>> sink =
      KafkaEventSink::Create(config->kafka, hooks);
  if (!sink.ok()) {
    SM_LOG(Error, "kafka_unusable")
        .Kv("status", sink.status().ToString())
        .Kv("bootstrap", config->kafka.bootstrap_servers);
    return 1;
  }

  ByteBudget budget(config->process_bytes_limit);
  IngestDeps deps;
  deps.sink = sink->get();
  deps.budget = &budget;
  deps.clock = RealClock::Get();
  deps.metrics = &metrics;
  deps.limits = config->limits;
  deps.stream_bytes_limit = config->stream_bytes_limit;
  deps.summary_rejections = config->summary_rejections;
  IngestServiceImpl service(deps);

  grpc::EnableDefaultHealthCheckService(true);
  // Links the health protocol's descriptor in, so reflection (and grpcurl) can describe it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config->listen_address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config->max_message_bytes));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    SM_LOG(Error, "listen_failed").Kv("address", config->listen_address);
    return 1;
  }
  health.store(server->GetHealthCheckService());
  health.load()->SetServingStatus(kServiceName, true);
  SM_LOG(Info, "ingest_serving")
      .Kv("grpc", config->listen_address)
      .Kv("metrics", config->metrics_address)
      .Kv("kafka", config->kafka.bootstrap_servers)
      .Kv("events_topic", config->kafka.events_topic);

  // Gauges that are sampled rather than counted (so the hot path pays nothing for them),
  // refreshed while waiting for a stop signal.
  int signal = -1;
  while (signal < 0) {
    metrics.SetQueueDepth((*sink)->QueueDepth());
    metrics.SetBytesInFlight(budget.used());
    signal = stop_signals.Wait(absl::Seconds(1));
  }

  SM_LOG(Info, "ingest_stopping").Kv("signal", strsignal(signal));
  health.load()->SetServingStatus(kServiceName, false);
  health.load()->SetServingStatus(false);
  // Stops accepting streams at once; open streams finish (clients half-close) until the deadline,
  // then are cancelled. Their accepted events are still flushed below.
  server->Shutdown(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(config->shutdown_grace));
  absl::Status flushed = (*sink)->Close(config->flush_timeout);
  if (!flushed.ok()) {
    SM_LOG(Error, "ingest_stopped_with_unconfirmed_records").Kv("status", flushed.ToString());
    return 1;
  }
  SM_LOG(Info, "ingest_stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
