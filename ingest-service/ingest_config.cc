#include "ingest-service/ingest_config.h"

#include "absl/strings/str_cat.h"
#include "lib/common/config_loader.h"
#include "lib/common/status_macros.h"

namespace streammetrics::ingest {

absl::StatusOr<IngestConfig> LoadIngestConfig(int argc, const char* const* argv) {
  IngestConfig c;
  events::ValidationLimits& l = c.limits;
  std::string kafka_properties;
  ConfigLoader loader("streammetrics-ingest");
  loader.String("ingest_address", &c.listen_address, "gRPC address of the IngestService.");
  loader.String("ingest_metrics_address", &c.metrics_address, "HTTP address of /metrics.");
  AddMetricsServerFlags(&loader, &c.metrics_server);
  loader.String("kafka_bootstrap", &c.kafka.bootstrap_servers, "Kafka bootstrap servers.");
  loader.String("events_topic", &c.topics.events, "Topic of accepted events.");
  loader.String("dead_letter_topic", &c.topics.dead_letter, "Topic of rejected events.");
  loader.Secret("kafka_properties", &kafka_properties,
                "extra librdkafka producer properties, name=value,name=value (SASL/SSL "
                "settings: docs/security.md)");
  loader.Duration("kafka_message_timeout", &c.kafka.message_timeout,
                  "How long a record may wait for Kafka before its batch fails.");
  loader.Bool("kafka_check_topics", &c.kafka.check_topics,
              "Verify at start that the topics exist with the expected layout.");
  loader.Bytes("process_bytes_limit", &c.process_bytes_limit,
               "Bytes in flight over all streams before streams stop reading.");
  loader.Bytes("stream_bytes_limit", &c.stream_bytes_limit,
               "Bytes in flight per stream before it stops reading.");
  loader.Bytes("stream_unread_ack_bytes_limit", &c.stream_unread_ack_bytes_limit,
               "Acks of one stream the client has not read yet before the stream stops reading.");
  loader.Bytes("max_message_bytes", &c.max_message_bytes, "Largest MetricBatch message.");
  loader.Duration("shutdown_grace", &c.shutdown_grace,
                  "On SIGTERM, how long open streams may take to finish.");
  loader.Duration("flush_timeout", &c.flush_timeout,
                  "On SIGTERM, how long Kafka may take to confirm what is in flight.");
  loader.Duration("max_future_skew", &l.max_future_skew,
                  "How far in the future an event's timestamp may be.");
  loader.Duration("max_event_age", &l.max_age, "How old an event may be.");
  int64_t max_batch_events = static_cast<int64_t>(l.max_batch_events);
  loader.Int("max_batch_events", &max_batch_events, "Most events per batch.");
  int64_t max_tags = static_cast<int64_t>(l.max_tags);
  loader.Int("max_tags", &max_tags, "Most tags per event.");
  int64_t summary_rejections = static_cast<int64_t>(c.summary_rejections);
  loader.Int("summary_rejections", &summary_rejections, "Rejections listed in a summary.");
  security::AddServerSecurityFlags(&loader, &c.security);
  AddConnectionLimitFlags(&loader, &c.connection_limits);
  int64_t max_streams = static_cast<int64_t>(c.max_streams);
  loader.Int("max_streams", &max_streams, "Ingest streams open at once (0: no limit).");
  int64_t max_streams_per_caller = static_cast<int64_t>(c.max_streams_per_caller);
  loader.Int("max_streams_per_caller", &max_streams_per_caller,
             "Ingest streams one caller may have open at once (0: no limit).");
  loader.Double("caller_events_per_second", &c.caller_events_per_second,
                "Events per second one caller may send (0: no limit).");
  loader.Double("caller_burst_events", &c.caller_burst_events,
                "Events a caller may send at once after a quiet spell (0: a second's worth).");
  loader.String("otlp_address", &c.otlp_address,
                "gRPC address of the OTLP metrics door (\"\" serves none).");
  int64_t otlp_points = static_cast<int64_t>(c.otlp_max_points_per_export);
  loader.Int("otlp_max_points_per_export", &otlp_points, "Most data points in one OTLP export.");
  int64_t otlp_exports = static_cast<int64_t>(c.otlp_max_exports);
  loader.Int("otlp_max_exports", &otlp_exports, "OTLP exports in flight at once (0: no limit).");
  int64_t otlp_exports_per_caller = static_cast<int64_t>(c.otlp_max_exports_per_caller);
  loader.Int("otlp_max_exports_per_caller", &otlp_exports_per_caller,
             "OTLP exports one caller may have in flight (0: no limit).");
  int64_t otlp_series = static_cast<int64_t>(c.otlp_cumulative_series);
  loader.Int("otlp_cumulative_series", &otlp_series,
             "Cumulative OTLP sum series remembered to compute increases.");
  RETURN_IF_ERROR(loader.Load(argc, argv));

  if (otlp_points < 1 || otlp_exports < 0 || otlp_exports_per_caller < 0 || otlp_series < 1) {
    return absl::InvalidArgumentError(
        "otlp_max_points_per_export and otlp_cumulative_series must be >= 1, otlp_max_exports "
        "and otlp_max_exports_per_caller >= 0");
  }
  c.otlp_max_points_per_export = static_cast<size_t>(otlp_points);
  c.otlp_max_exports = static_cast<size_t>(otlp_exports);
  c.otlp_max_exports_per_caller = static_cast<size_t>(otlp_exports_per_caller);
  c.otlp_cumulative_series = static_cast<size_t>(otlp_series);
  if (!c.otlp_address.empty()) {
    RETURN_IF_ERROR(security::CheckServerSecurity(c.otlp_address, c.security));
  }

  if (max_streams < 0 || max_streams_per_caller < 0 || c.caller_events_per_second < 0 ||
      c.caller_burst_events < 0) {
    return absl::InvalidArgumentError(
        "max_streams, max_streams_per_caller, caller_events_per_second and caller_burst_events "
        "must be >= 0");
  }
  c.max_streams = static_cast<size_t>(max_streams);
  c.max_streams_per_caller = static_cast<size_t>(max_streams_per_caller);
  RETURN_IF_ERROR(security::CheckServerSecurity(c.listen_address, c.security));
  RETURN_IF_ERROR(security::CheckMetricsExposure(c.metrics_address, c.security));

  if (max_batch_events < 1 || max_tags < 0 || summary_rejections < 0) {
    return absl::InvalidArgumentError(
        "max_batch_events must be >= 1, max_tags and summary_rejections >= 0");
  }
  l.max_batch_events = static_cast<size_t>(max_batch_events);
  l.max_tags = static_cast<size_t>(max_tags);
  c.summary_rejections = static_cast<size_t>(summary_rejections);
  ASSIGN_OR_RETURN(c.kafka.extra_properties, kafka::ParseProperties(kafka_properties));
  if (c.stream_bytes_limit == 0 || c.process_bytes_limit == 0 ||
      c.stream_unread_ack_bytes_limit == 0) {
    return absl::InvalidArgumentError("byte limits must be > 0");
  }
  return c;
}

}  // namespace streammetrics::ingest
