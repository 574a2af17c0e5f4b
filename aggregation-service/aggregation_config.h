// AggregationConfig: every setting of the aggregation service, with its default, loaded once at
// start from STREAMMETRICS_* variables and flags (docs/contract.md §6).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_CONFIG_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aggregation-service/consume/aggregator.h"
#include "aggregation-service/consume/kafka_event_source.h"
#include "aggregation-service/query/kafka_window_feed.h"
#include "aggregation-service/query/postgres_aggregate_reader.h"
#include "aggregation-service/query/query_requests.h"
#include "aggregation-service/query/query_service.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "aggregation-service/store/partition_maintainer.h"
#include "aggregation-service/store/postgres_aggregate_store.h"
#include "lib/common/grpc_server.h"
#include "lib/common/metrics_server.h"
#include "lib/kafka/kafka_record_sink.h"
#include "lib/security/server_security.h"

namespace streammetrics::aggregation {

struct AggregationConfig {
  // gRPC address of the QueryService (with health and reflection).
  std::string query_address = "127.0.0.1:50052";
  // HTTP address of the Prometheus /metrics endpoint.
  std::string metrics_address = "127.0.0.1:9465";
  // Bounds of the /metrics endpoint's connections.
  MetricsServerOptions metrics_server;
  // The consumer group reading metrics-events (its group.id and the key of its stored offsets).
  KafkaSourceConfig source;
  // The producer publishing final windows and dead letters (acks=all, idempotent).
  kafka::KafkaSinkConfig publisher;
  // PostgreSQL: connection, consumer group and topic of the stored offsets.
  PostgresStoreConfig store;
  // Retention of stored windows and the upkeep of metrics.metric_aggregates' day partitions
  // (1-minute windows kept 14 days, 5-minute windows 90; partitions made 3 days ahead, checked
  // hourly). Queries answer from what the retention keeps (limits.retention is a copy).
  PartitionMaintainerOptions partitions;
  // Windows, checkpoint interval, idle advance, topics, validation.
  AggregatorOptions aggregator;
  // QueryService: PostgreSQL reads (same database as `store`), the Redis cache of the newest
  // windows, the aggregated topics WatchAggregates follows, worker threads, request limits.
  PostgresReaderConfig reader;
  RedisCacheConfig cache;
  // False: no Redis at all; GetLatest reads PostgreSQL.
  bool cache_enabled = true;
  KafkaFeedConfig feed;
  QueryServiceOptions query;
  // TLS, mutual TLS, bearer tokens, and the rule against exposing the port unprotected.
  security::ServerSecurityConfig security;
  // What one client connection of the QueryService may take (gRPC's own limits).
  ConnectionLimits connection_limits;
  QueryLimits limits;
  // Longest wait of one consumer poll; bounds how late a tick (watermarks, checkpoints) runs.
  absl::Duration poll_timeout = absl::Milliseconds(100);
  // On SIGTERM: how long Kafka may take to confirm what is being published.
  absl::Duration flush_timeout = absl::Seconds(30);
};

// Defaults, then STREAMMETRICS_* variables, then flags. Fails with InvalidArgument naming the bad
// setting, or Cancelled after printing the usage for --help.
absl::StatusOr<AggregationConfig> LoadAggregationConfig(int argc, const char* const* argv);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_CONFIG_H_
