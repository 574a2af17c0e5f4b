// AggregationConfig: every setting of the aggregation service, with its default, loaded once at
// start from STREAMMETRICS_* variables and flags (BRIEF §6).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_CONFIG_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aggregation-service/aggregator.h"
#include "aggregation-service/kafka_event_source.h"
#include "aggregation-service/postgres_aggregate_store.h"
#include "ingest-service/kafka_event_sink.h"

namespace streammetrics::aggregation {

struct AggregationConfig {
  // gRPC address of the QueryService (with health and reflection).
  std::string query_address = "127.0.0.1:50052";
  // HTTP address of the Prometheus /metrics endpoint.
  std::string metrics_address = "127.0.0.1:9465";
  // The consumer group reading metrics-events (its group.id and the key of its stored offsets).
  KafkaSourceConfig source;
  // The producer publishing final windows and dead letters (acks=all, idempotent).
  ingest::KafkaSinkConfig publisher;
  // PostgreSQL: connection, consumer group and topic of the stored offsets.
  PostgresStoreConfig store;
  // Windows, checkpoint interval, idle advance, topics, validation.
  AggregatorOptions aggregator;
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
