// streammetrics-aggregation: wires configuration, PostgreSQL, the Kafka consumer and publisher,
// metrics and the gRPC server (health, reflection), runs the consume loop on its own thread, and
// on SIGTERM/SIGINT checkpoints, leaves the consumer group and exits.
#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <thread>

#include "aggregation-service/aggregation_config.h"
#include "aggregation-service/aggregation_metrics.h"
#include "aggregation-service/aggregator.h"
#include "aggregation-service/consume_loop.h"
#include "aggregation-service/kafka_event_source.h"
#include "aggregation-service/postgres_aggregate_store.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "ingest-service/kafka_event_sink.h"
#include "lib/common/clock.h"
#include "lib/common/log.h"
#include "lib/common/metrics_exposer.h"

namespace {

int Run(int argc, char** argv) {
  using namespace streammetrics;
  using namespace streammetrics::aggregation;

  // Block the stop signals in every thread (threads inherit the mask); main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<AggregationConfig> config = LoadAggregationConfig(argc, argv);
  if (absl::IsCancelled(config.status())) return 0;  // --help
  if (!config.ok()) {
    SM_LOG(Error, "config_invalid").Kv("status", config.status().ToString());
    return 2;
  }

  AggregationMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer = StartExposer(config->metrics_address);
  if (exposer == nullptr) return 1;
  exposer->RegisterCollectable(metrics.registry());

  absl::StatusOr<std::unique_ptr<PostgresAggregateStore>> store =
      PostgresAggregateStore::Create(config->store);
  if (!store.ok()) {
    SM_LOG(Error, "postgres_unusable").Kv("status", store.status().ToString());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<ingest::KafkaEventSink>> publisher =
      ingest::KafkaEventSink::Create(config->publisher);
  if (!publisher.ok()) {
    SM_LOG(Error, "kafka_unusable")
        .Kv("status", publisher.status().ToString())
        .Kv("bootstrap", config->publisher.bootstrap_servers);
    return 1;
  }

  AggregatorDeps deps;
  deps.store = store->get();
  deps.publisher = publisher->get();
  deps.clock = RealClock::Get();
  deps.metrics = &metrics;
  Aggregator aggregator(config->aggregator, deps);
  absl::StatusOr<std::unique_ptr<KafkaEventSource>> source =
      KafkaEventSource::Create(config->source, &aggregator);
  if (!source.ok()) {
    SM_LOG(Error, "kafka_unusable")
        .Kv("status", source.status().ToString())
        .Kv("bootstrap", config->source.bootstrap_servers);
    return 1;
  }

  grpc::EnableDefaultHealthCheckService(true);
  // Links the health protocol's descriptor in, so reflection (and grpcurl) can describe it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config->query_address, grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    SM_LOG(Error, "listen_failed").Kv("address", config->query_address);
    return 1;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();

  std::atomic<bool> stop{false};
  std::atomic<bool> loop_done{false};
  absl::Status loop_status;
  ConsumeLoopOptions loop_options;
  loop_options.poll_timeout = config->poll_timeout;
  loop_options.flush_timeout = config->flush_timeout;
  std::thread loop([&] {
    loop_status = RunConsumeLoop(**source, aggregator, **publisher, stop, loop_options);
    loop_done.store(true);
  });
  SM_LOG(Info, "aggregation_serving")
      .Kv("grpc", config->query_address)
      .Kv("metrics", config->metrics_address)
      .Kv("kafka", config->source.bootstrap_servers)
      .Kv("group", config->source.group_id)
      .Kv("checkpoint_interval", absl::FormatDuration(config->aggregator.checkpoint_interval))
      .Kv("allowed_lateness", absl::FormatDuration(config->aggregator.engine.allowed_lateness));

  const timespec tick{1, 0};
  int signal = -1;
  while (signal < 0 && !loop_done.load()) {
    // Not serving while checkpoints fail: a load balancer or operator sees it at once.
    health->SetServingStatus(!aggregator.checkpoint_pending());
    signal = sigtimedwait(&stop_signals, nullptr, &tick);
  }
  if (signal >= 0) SM_LOG(Info, "aggregation_stopping").Kv("signal", strsignal(signal));
  health->SetServingStatus(false);
  stop.store(true);
  loop.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  absl::Status flushed = (*publisher)->Close(config->flush_timeout);
  if (!loop_status.ok()) {
    SM_LOG(Error, "aggregation_stopped_with_error").Kv("status", loop_status.ToString());
    return 1;
  }
  if (!flushed.ok()) {
    SM_LOG(Warn, "aggregation_publish_unconfirmed")
        .Kv("status", flushed.ToString())
        .Kv("consequence", "republished from the outbox by the next owner");
  }
  SM_LOG(Info, "aggregation_stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
