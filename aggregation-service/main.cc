// streammetrics-aggregation: wires configuration, PostgreSQL, the Kafka consumer and publisher,
// the Redis cache, metrics and the gRPC server (QueryService, health, reflection), runs the
// consume loop on its own thread, and on SIGTERM/SIGINT ends watch streams, checkpoints, leaves
// the consumer group, writes what the cache still lacks and exits.
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
#include "aggregation-service/query/cache_writer.h"
#include "aggregation-service/query/kafka_window_feed.h"
#include "aggregation-service/query/postgres_aggregate_reader.h"
#include "aggregation-service/query/query_handler.h"
#include "aggregation-service/query/query_metrics.h"
#include "aggregation-service/query/query_service.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "aggregation-service/query/watch_hub.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "ingest-service/kafka_event_sink.h"
#include "lib/common/clock.h"
#include "lib/common/log.h"
#include "lib/common/metrics_exposer.h"
#include "lib/common/stop_signals.h"

namespace {

int Run(int argc, char** argv) {
  using namespace streammetrics;
  using namespace streammetrics::aggregation;

  // Before any thread starts: they inherit the blocked mask, and main waits for the signals.
  const StopSignals stop_signals = StopSignals::Block();

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

  // The query side: PostgreSQL reads, the Redis cache (and its writer, off the commit path),
  // the watch fan-out fed from the aggregated topics.
  QueryMetrics query_metrics(metrics.registry());
  absl::StatusOr<std::unique_ptr<PostgresAggregateReader>> reader =
      PostgresAggregateReader::Create(config->reader);
  if (!reader.ok()) {
    SM_LOG(Error, "postgres_unusable").Kv("status", reader.status().ToString());
    return 1;
  }
  std::unique_ptr<RedisAggregateCache> cache;
  std::unique_ptr<CacheWriter> cache_writer;
  if (config->cache_enabled) {
    absl::StatusOr<std::unique_ptr<RedisAggregateCache>> created =
        RedisAggregateCache::Create(config->cache);
    if (!created.ok()) {
      SM_LOG(Error, "config_invalid").Kv("status", created.status().ToString());
      return 2;
    }
    cache = *std::move(created);
    cache_writer = std::make_unique<CacheWriter>(cache.get());
  }
  QueryHandlerDeps query_deps;
  query_deps.reader = reader->get();
  query_deps.cache = cache.get();
  query_deps.metrics = &query_metrics;
  if (cache_writer != nullptr) {
    query_deps.fill_cache = [w = cache_writer.get()](std::vector<v1::WindowAggregate> ws) {
      w->Offer(std::move(ws));
    };
  }
  QueryHandler handler(config->limits, query_deps);
  WatchHub hub(/*max_watchers=*/100, &query_metrics);
  QueryServiceImpl query_service(config->query, &handler, &hub, &query_metrics);
  absl::StatusOr<std::unique_ptr<KafkaWindowFeed>> feed = KafkaWindowFeed::Create(config->feed);
  absl::Status feeding =
      feed.ok() ? (*feed)->Start([&hub](const v1::WindowAggregate& w) { hub.Publish(w); })
                : feed.status();
  if (!feeding.ok()) {
    SM_LOG(Error, "kafka_unusable")
        .Kv("status", feeding.ToString())
        .Kv("what", "the aggregated topics WatchAggregates follows");
    return 1;
  }

  AggregatorDeps deps;
  deps.store = store->get();
  deps.publisher = publisher->get();
  deps.clock = RealClock::Get();
  deps.metrics = &metrics;
  if (cache_writer != nullptr) {
    // Called after each checkpoint committed: the cache never shows an uncommitted number.
    deps.on_committed = [w = cache_writer.get()](std::vector<v1::WindowAggregate> ws) {
      w->Offer(std::move(ws));
    };
  }
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
  builder.RegisterService(&query_service);
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

  int signal = -1;
  while (signal < 0 && !loop_done.load()) {
    // Not serving while checkpoints fail: a load balancer or operator sees it at once.
    health->SetServingStatus(!aggregator.checkpoint_failing());
    query_metrics.SetCacheAvailable(cache != nullptr && cache->available());
    query_metrics.SetCachePending(cache_writer != nullptr ? cache_writer->pending() : 0);
    query_metrics.SetWatchers(hub.watchers());
    signal = stop_signals.Wait(absl::Seconds(1));
  }
  if (signal >= 0) SM_LOG(Info, "aggregation_stopping").Kv("signal", strsignal(signal));
  health->SetServingStatus(false);
  // Watch streams end first: the server's Shutdown waits for every open call.
  hub.Close();
  (*feed)->Stop();
  stop.store(true);
  loop.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // The last checkpoint's windows, into Redis if it answers (else the next start's reads refill).
  if (cache_writer != nullptr) cache_writer->Stop();
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
