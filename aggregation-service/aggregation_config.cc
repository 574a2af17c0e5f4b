// LoadAggregationConfig: names and help lines of the aggregation service's settings.
#include "aggregation-service/aggregation_config.h"

#include "absl/strings/str_cat.h"
#include "lib/common/config_loader.h"
#include "lib/common/status_macros.h"

namespace streammetrics::aggregation {

absl::StatusOr<AggregationConfig> LoadAggregationConfig(int argc, const char* const* argv) {
  AggregationConfig c;
  AggregatorOptions& a = c.aggregator;
  std::string consumer_properties;
  std::string producer_properties;
  std::string bootstrap = c.source.bootstrap_servers;
  ConfigLoader loader("streammetrics-aggregation");
  loader.String("query_address", &c.query_address, "gRPC address of the QueryService.");
  loader.String("aggregation_metrics_address", &c.metrics_address, "HTTP address of /metrics.");
  AddMetricsServerFlags(&loader, &c.metrics_server);
  loader.String("kafka_bootstrap", &bootstrap, "Kafka bootstrap servers.");
  loader.String("consumer_group", &c.source.group_id,
                "Consumer group of metrics-events (also the key of the offsets in PostgreSQL).");
  loader.String("events_topic", &a.events_topic, "Topic of events to aggregate.");
  loader.String("aggregated_1m_topic", &a.aggregated_1m_topic, "Topic of final 1m windows.");
  loader.String("aggregated_5m_topic", &a.aggregated_5m_topic, "Topic of final 5m windows.");
  loader.String("dead_letter_topic", &a.dead_letter_topic, "Topic of refused records.");
  loader.Secret("kafka_consumer_properties", &consumer_properties,
                "extra librdkafka consumer properties, name=value,name=value (SASL/SSL "
                "settings: docs/security.md)");
  loader.Secret("kafka_producer_properties", &producer_properties,
                "extra librdkafka producer properties, name=value,name=value");
  loader.Bool("kafka_check_topics", &c.source.check_topic,
              "Verify at start that the topics exist with the expected layout.");
  loader.Secret("pg_url", &c.store.conninfo,
                "libpq connection string of PostgreSQL (with sslmode=verify-full for TLS)");
  loader.Duration("allowed_lateness", &a.engine.allowed_lateness,
                  "How far the watermark trails the newest event time.");
  loader.Duration("checkpoint_interval", &a.checkpoint_interval,
                  "How often state, offsets and final windows are committed.");
  loader.Duration("idle_after", &a.idle_after,
                  "A caught-up partition without records for this long advances by wall clock.");
  loader.Duration("max_future_skew", &a.limits.max_future_skew,
                  "How far in the future an event's timestamp may be.");
  loader.Duration("poll_timeout", &c.poll_timeout, "Longest wait of one consumer poll.");
  RetentionPolicy& r = c.partitions.retention;
  loader.Duration("retention_1m", &r.keep_1m,
                  "How long 1-minute windows are kept (inf: forever); whole days are dropped.");
  loader.Duration("retention_5m", &r.keep_5m,
                  "How long 5-minute windows are kept (inf: forever); whole days are dropped.");
  loader.Duration("partitions_ahead", &r.create_ahead,
                  "How far ahead of now day partitions of the windows table are created.");
  loader.Duration("partitions_behind", &r.create_behind,
                  "How far back day partitions are created (cover the events topic's retention).");
  loader.Duration("partition_maintenance_interval", &c.partitions.interval,
                  "How often partitions are created and dropped by the retention.");
  loader.Duration("flush_timeout", &c.flush_timeout,
                  "On SIGTERM, how long Kafka may take to confirm what is being published.");
  std::string redis_host = c.cache.pool.host;
  int64_t redis_port = c.cache.pool.port;
  int64_t query_threads = static_cast<int64_t>(c.query.worker_threads);
  int64_t watch_buffer = static_cast<int64_t>(c.query.watch_buffer);
  int64_t max_watchers = static_cast<int64_t>(c.query.max_watchers);
  loader.String("redis_host", &redis_host, "Redis host of the cache of the newest windows.");
  loader.Int("redis_port", &redis_port, "Redis port.");
  loader.String("redis_username", &c.cache.pool.username, "Redis ACL user (with a password).");
  loader.Secret("redis_password", &c.cache.pool.password, "Redis password (AUTH)");
  loader.Bool("cache_enabled", &c.cache_enabled,
              "Cache the newest windows in Redis (false: GetLatest reads PostgreSQL).");
  loader.Duration("cache_ttl", &c.cache.entry_ttl,
                  "How long a series' cached newest window lives without an update.");
  loader.Int("query_threads", &query_threads, "Threads running QueryService calls.");
  loader.Int("max_watchers", &max_watchers, "WatchAggregates streams open at once.");
  int64_t watchers_per_caller = static_cast<int64_t>(c.query.max_watchers_per_caller);
  loader.Int("max_watchers_per_caller", &watchers_per_caller,
             "WatchAggregates streams one caller may have open at once.");
  int64_t queued_per_caller = static_cast<int64_t>(c.query.max_queued_calls_per_caller);
  loader.Int("max_queued_calls_per_caller", &queued_per_caller,
             "Query calls of one caller waiting for or holding a query thread.");
  security::AddServerSecurityFlags(&loader, &c.security);
  AddConnectionLimitFlags(&loader, &c.connection_limits);
  loader.Int("watch_buffer", &watch_buffer,
             "Windows a WatchAggregates stream may fall behind before it is cut off.");
  loader.Duration("query_statement_timeout", &c.reader.statement_timeout,
                  "Longest PostgreSQL statement of one query.");
  std::string page_token_keys;
  loader.Secret("page_token_keys", &page_token_keys,
                "keys QueryService page tokens are signed with (HMAC-SHA256), 32 bytes or more "
                "each, separated by commas or newlines; the first signs, all verify (rotate: add "
                "the new key first, drop the old one later). Unset: a random key per process, so "
                "a token works only on the instance that issued it");
  RETURN_IF_ERROR(loader.Load(argc, argv));
  if (!page_token_keys.empty()) {
    ASSIGN_OR_RETURN(c.limits.page_token_keys, PageTokenKeys::FromText(page_token_keys));
  }
  if (redis_port <= 0 || redis_port > 65535 || query_threads <= 0 || query_threads > 256 ||
      watch_buffer <= 0 || max_watchers <= 0 || watchers_per_caller <= 0 ||
      queued_per_caller <= 0) {
    return absl::InvalidArgumentError(
        "redis_port must be a port (1-65535), query_threads in 1..256, watch_buffer, "
        "max_watchers, max_watchers_per_caller and max_queued_calls_per_caller > 0");
  }
  c.query.max_watchers_per_caller = static_cast<size_t>(watchers_per_caller);
  c.query.max_queued_calls_per_caller = static_cast<size_t>(queued_per_caller);
  RETURN_IF_ERROR(security::CheckServerSecurity(c.query_address, c.security));
  RETURN_IF_ERROR(security::CheckMetricsExposure(c.metrics_address, c.security));
  c.cache.pool.host = redis_host;
  c.cache.pool.port = static_cast<int>(redis_port);
  c.query.worker_threads = static_cast<size_t>(query_threads);
  c.query.watch_buffer = static_cast<size_t>(watch_buffer);
  c.query.max_watchers = static_cast<size_t>(max_watchers);

  if (a.engine.allowed_lateness < absl::ZeroDuration() ||
      a.checkpoint_interval <= absl::ZeroDuration() || c.poll_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "allowed_lateness must be >= 0, checkpoint_interval and poll_timeout > 0");
  }
  RETURN_IF_ERROR(ValidateRetention(c.partitions.retention));
  if (c.partitions.interval <= absl::ZeroDuration() ||
      c.partitions.interval > c.partitions.retention.create_ahead / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition_maintenance_interval must be > 0 and at most half of partitions_ahead (",
        absl::FormatDuration(c.partitions.retention.create_ahead / 2),
        "), so a missed pass never leaves new windows without a day partition"));
  }
  c.limits.retention = c.partitions.retention;
  c.source.bootstrap_servers = bootstrap;
  c.source.topic = a.events_topic;
  c.publisher.bootstrap_servers = bootstrap;
  c.publisher.topics = {a.dead_letter_topic, a.aggregated_1m_topic, a.aggregated_5m_topic};
  c.publisher.check_topics = c.source.check_topic;
  c.store.consumer_group = c.source.group_id;
  c.reader.conninfo = c.store.conninfo;
  c.feed.bootstrap_servers = bootstrap;
  c.feed.topics = {a.aggregated_1m_topic, a.aggregated_5m_topic};
  c.store.topic = a.events_topic;
  ASSIGN_OR_RETURN(c.source.extra_properties, kafka::ParseProperties(consumer_properties));
  ASSIGN_OR_RETURN(c.publisher.extra_properties, kafka::ParseProperties(producer_properties));
  // The feed is a consumer too: security and network settings apply to it as well.
  c.feed.extra_properties = c.source.extra_properties;
  return c;
}

}  // namespace streammetrics::aggregation
