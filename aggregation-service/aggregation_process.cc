// AggregationProcess: see aggregation_process.h.
#include "aggregation-service/aggregation_process.h"

#include <utility>
#include <vector>

#include "aggregation-service/aggregation_metrics.h"
#include "aggregation-service/consume/aggregator.h"
#include "aggregation-service/consume/consume_loop.h"
#include "aggregation-service/consume/kafka_event_source.h"
#include "aggregation-service/query/cache_writer.h"
#include "aggregation-service/query/kafka_window_feed.h"
#include "aggregation-service/query/postgres_aggregate_reader.h"
#include "aggregation-service/query/query_handler.h"
#include "aggregation-service/query/query_metrics.h"
#include "aggregation-service/query/query_service.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "aggregation-service/query/watch_hub.h"
#include "aggregation-service/store/partition_maintainer.h"
#include "aggregation-service/store/postgres_aggregate_store.h"
#include "aggregation-service/store/postgres_partition_catalog.h"
#include "lib/common/clock.h"
#include "lib/common/grpc_server.h"
#include "lib/common/log.h"
#include "lib/common/metrics_server.h"
#include "lib/common/status_macros.h"
#include "lib/kafka/kafka_record_sink.h"
#include "lib/security/call_guard.h"

namespace streammetrics::aggregation {

// Members in start order: destruction runs in reverse, so a part is destroyed before what it
// uses. Stop() does the orderly part before that.
struct AggregationProcess::Parts {
  AggregationConfig config;
  AggregationMetrics metrics;
  std::unique_ptr<MetricsServer> exposer;
  std::unique_ptr<PostgresAggregateStore> store;
  std::unique_ptr<PostgresPartitionCatalog> partition_catalog;
  std::unique_ptr<PartitionMaintainer> partition_maintainer;
  std::unique_ptr<kafka::KafkaRecordSink> publisher;
  std::unique_ptr<QueryMetrics> query_metrics;
  std::unique_ptr<PostgresAggregateReader> reader;
  std::unique_ptr<RedisAggregateCache> cache;
  std::unique_ptr<CacheWriter> cache_writer;
  std::unique_ptr<QueryHandler> handler;
  std::unique_ptr<WatchHub> hub;
  std::unique_ptr<security::CallGuard> guard;
  std::unique_ptr<QueryServiceImpl> query_service;
  std::unique_ptr<KafkaWindowFeed> feed;
  std::unique_ptr<Aggregator> aggregator;
  std::unique_ptr<KafkaEventSource> source;
  std::unique_ptr<GrpcServer> server;
};

namespace {

// Adds what failed to a start error, keeping its code.
absl::Status Failed(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AggregationProcess>> AggregationProcess::Start(
    AggregationConfig config) {
  auto p = std::make_unique<Parts>();
  p->config = std::move(config);
  const AggregationConfig& c = p->config;

  ASSIGN_OR_RETURN(p->exposer, MetricsServer::Start(c.metrics_address, c.metrics_server));
  p->exposer->RegisterCollectable(p->metrics.registry());

  absl::StatusOr<std::unique_ptr<PostgresAggregateStore>> store =
      PostgresAggregateStore::Create(c.store);
  if (!store.ok()) return Failed(store.status(), "PostgreSQL (checkpoints)");
  p->store = *std::move(store);
  // Day partitions for the windows about to be written, before anything is consumed; an
  // unpartitioned (unmigrated) table fails the start. Other failures are retried by the
  // maintainer's thread: days exist ahead, so writes go on meanwhile.
  PostgresCatalogConfig catalog_config;
  catalog_config.conninfo = c.store.conninfo;
  catalog_config.connect_timeout = c.store.connect_timeout;
  absl::StatusOr<std::unique_ptr<PostgresPartitionCatalog>> catalog =
      PostgresPartitionCatalog::Create(catalog_config);
  if (!catalog.ok()) return Failed(catalog.status(), "PostgreSQL (partitions)");
  p->partition_catalog = *std::move(catalog);
  p->partition_maintainer = std::make_unique<PartitionMaintainer>(
      p->partition_catalog.get(), RealClock::Get(), c.partitions,
      [m = &p->metrics](const absl::StatusOr<PartitionChanges>& pass) {
        if (pass.ok()) {
          m->PartitionsMaintained(pass->created, pass->dropped, pass->rows_purged);
        } else {
          m->PartitionMaintenanceFailed();
        }
      });
  if (absl::StatusOr<PartitionChanges> first = p->partition_maintainer->RunOnce();
      !first.ok() && absl::IsFailedPrecondition(first.status())) {
    return Failed(first.status(), "PostgreSQL (partitions; apply deploy/migrations)");
  }
  p->partition_maintainer->Start();
  absl::StatusOr<std::unique_ptr<kafka::KafkaRecordSink>> publisher =
      kafka::KafkaRecordSink::Create(c.publisher);
  if (!publisher.ok()) return Failed(publisher.status(), "Kafka (publisher)");
  p->publisher = *std::move(publisher);

  // The query side: PostgreSQL reads, the Redis cache (and its writer, off the commit path), the
  // watch fan-out fed from the aggregated topics.
  p->query_metrics = std::make_unique<QueryMetrics>(p->metrics.registry());
  absl::StatusOr<std::unique_ptr<PostgresAggregateReader>> reader =
      PostgresAggregateReader::Create(c.reader);
  if (!reader.ok()) return Failed(reader.status(), "PostgreSQL (queries)");
  p->reader = *std::move(reader);
  if (c.cache_enabled) {
    absl::StatusOr<std::unique_ptr<RedisAggregateCache>> cache =
        RedisAggregateCache::Create(c.cache);
    if (!cache.ok()) return Failed(cache.status(), "Redis cache");
    p->cache = *std::move(cache);
    p->cache_writer = std::make_unique<CacheWriter>(p->cache.get());
  }
  QueryHandlerDeps query_deps;
  query_deps.reader = p->reader.get();
  query_deps.cache = p->cache.get();
  query_deps.metrics = p->query_metrics.get();
  if (p->cache_writer != nullptr) {
    query_deps.fill_cache = [w = p->cache_writer.get()](std::vector<v1::WindowAggregate> ws) {
      w->Offer(std::move(ws));
    };
  }
  p->handler = std::make_unique<QueryHandler>(c.limits, query_deps);
  p->hub = std::make_unique<WatchHub>(c.query.max_watchers, p->query_metrics.get());
  ASSIGN_OR_RETURN(p->guard, security::CallGuard::Create(c.security, *p->metrics.registry()));
  p->query_service = std::make_unique<QueryServiceImpl>(c.query, p->handler.get(), p->hub.get(),
                                                        p->query_metrics.get(), p->guard.get());
  absl::StatusOr<std::unique_ptr<KafkaWindowFeed>> feed = KafkaWindowFeed::Create(c.feed);
  if (!feed.ok()) return Failed(feed.status(), "Kafka (aggregated topics for WatchAggregates)");
  p->feed = *std::move(feed);
  if (absl::Status started =
          p->feed->Start([hub = p->hub.get()](const v1::WindowAggregate& w) { hub->Publish(w); });
      !started.ok()) {
    return Failed(started, "Kafka (aggregated topics for WatchAggregates)");
  }

  AggregatorDeps deps;
  deps.store = p->store.get();
  deps.publisher = p->publisher.get();
  deps.clock = RealClock::Get();
  deps.metrics = &p->metrics;
  if (p->cache_writer != nullptr) {
    // Called after each checkpoint committed: the cache never shows an uncommitted number.
    deps.on_committed = [w = p->cache_writer.get()](std::vector<v1::WindowAggregate> ws) {
      w->Offer(std::move(ws));
    };
  }
  p->aggregator = std::make_unique<Aggregator>(c.aggregator, deps);
  absl::StatusOr<std::unique_ptr<KafkaEventSource>> source =
      KafkaEventSource::Create(c.source, p->aggregator.get());
  if (!source.ok()) return Failed(source.status(), "Kafka (consumer)");
  p->source = *std::move(source);

  GrpcServerOptions server_options;
  server_options.address = c.query_address;
  server_options.health_services = {"streammetrics.v1.QueryService"};
  server_options.security = c.security;
  server_options.limits = c.connection_limits;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(server_options, {p->query_service.get()});
  if (!server.ok()) return Failed(server.status(), "QueryService");
  p->server = *std::move(server);

  std::unique_ptr<AggregationProcess> process(new AggregationProcess(std::move(p)));
  AggregationProcess* self = process.get();
  ConsumeLoopOptions loop_options;
  loop_options.poll_timeout = c.poll_timeout;
  loop_options.flush_timeout = c.flush_timeout;
  self->loop_ = std::thread([self, loop_options] {
    Parts& parts = *self->parts_;
    self->loop_status_ = RunConsumeLoop(*parts.source, *parts.aggregator, *parts.publisher,
                                        self->stop_, loop_options);
    self->loop_done_.store(true);
  });
  SM_LOG(Info, "aggregation_serving")
      .Kv("grpc", self->parts_->config.query_address)
      .Kv("port", self->query_port())
      .Kv("metrics", c.metrics_address)
      .Kv("kafka", c.source.bootstrap_servers)
      .Kv("group", c.source.group_id)
      .Kv("checkpoint_interval", absl::FormatDuration(c.aggregator.checkpoint_interval))
      .Kv("allowed_lateness", absl::FormatDuration(c.aggregator.engine.allowed_lateness));
  return process;
}

AggregationProcess::AggregationProcess(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

AggregationProcess::~AggregationProcess() { (void)Stop(); }

int AggregationProcess::query_port() const { return parts_->server->port(); }

bool AggregationProcess::Supervise() {
  Parts& p = *parts_;
  // Not serving while checkpoints fail: a load balancer or operator sees it at once.
  p.server->SetServing(!p.aggregator->checkpoint_failing());
  p.query_metrics->SetCacheAvailable(p.cache != nullptr && p.cache->available());
  p.query_metrics->SetCachePending(p.cache_writer != nullptr ? p.cache_writer->pending() : 0);
  p.query_metrics->SetWatchers(p.hub->watchers());
  return !loop_done_.load();
}

absl::Status AggregationProcess::Stop() {
  if (stopped_) return stop_status_;
  stopped_ = true;
  Parts& p = *parts_;
  p.server->SetServing(false);
  p.partition_maintainer->Stop();
  // Watch streams end first: the server's shutdown waits for every open call.
  p.hub->Close();
  p.feed->Stop();
  stop_.store(true);
  if (loop_.joinable()) loop_.join();
  p.server->Shutdown(absl::Seconds(5));
  // The last checkpoint's windows, into Redis if it answers (else the next start's reads refill).
  if (p.cache_writer != nullptr) p.cache_writer->Stop();
  absl::Status flushed = p.publisher->Close(p.config.flush_timeout);
  if (!flushed.ok()) {
    SM_LOG(Warn, "aggregation_publish_unconfirmed")
        .Kv("status", flushed.ToString())
        .Kv("consequence", "republished from the outbox by the next owner");
  }
  stop_status_ = loop_status_;
  if (stop_status_.ok()) {
    SM_LOG(Info, "aggregation_stopped");
  } else {
    SM_LOG(Error, "aggregation_stopped_with_error").Kv("status", stop_status_.ToString());
  }
  return stop_status_;
}

}  // namespace streammetrics::aggregation
