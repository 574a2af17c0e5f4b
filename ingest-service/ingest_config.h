// IngestConfig: every setting of the ingest service, each with its default; loaded once at start
// from STREAMMETRICS_* variables and flags (see LoadIngestConfig, or run with --help).
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_CONFIG_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest-service/batch_preparer.h"
#include "lib/common/grpc_server.h"
#include "lib/common/metrics_server.h"
#include "lib/events/validation.h"
#include "lib/kafka/kafka_record_sink.h"
#include "lib/security/server_security.h"

namespace streammetrics::ingest {

struct IngestConfig {
  // gRPC address the IngestService listens on.
  std::string listen_address = "127.0.0.1:50051";
  // HTTP address of the Prometheus /metrics endpoint.
  std::string metrics_address = "127.0.0.1:9464";
  // Bounds of the /metrics endpoint's connections.
  MetricsServerOptions metrics_server;
  // Where accepted and rejected events go.
  IngestTopics topics;
  // Kafka producer and pass-through librdkafka properties. Its `topics` need not be set: the
  // IngestProcess checks `topics` at start.
  kafka::KafkaSinkConfig kafka;
  // Validation limits (docs/contract.md).
  events::ValidationLimits limits;
  // Bytes in flight (read, not yet confirmed by Kafka) over all streams before streams stop
  // reading. Bounds memory when Kafka is slow or down.
  size_t process_bytes_limit = 256 << 20;
  // Bytes in flight one stream may have before it stops reading.
  size_t stream_bytes_limit = 16 << 20;
  // Acks of one IngestStream waiting to be written (the client is not reading them) before the
  // stream stops reading: a client that never reads its acks holds at most this much, plus
  // stream_bytes_limit, on the server.
  size_t stream_unread_ack_bytes_limit = 1 << 20;
  // Largest gRPC message (one MetricBatch) accepted; larger ones end the stream with
  // RESOURCE_EXHAUSTED.
  size_t max_message_bytes = 4 << 20;
  // Rejections listed in an IngestSummary.
  size_t summary_rejections = 20;
  // TLS, mutual TLS, bearer tokens, and the rule against exposing the port unprotected.
  security::ServerSecurityConfig security;
  // What one client connection may take (gRPC's own limits).
  ConnectionLimits connection_limits;
  // Ingest streams open at once, over all callers and per caller; one more is refused with
  // RESOURCE_EXHAUSTED. An idle stream costs about 25 KiB (docs/security.md).
  size_t max_streams = 4096;
  size_t max_streams_per_caller = 1024;
  // Events per second one caller may send over all its streams on this instance (0: no limit),
  // and how many it may send at once after a quiet spell. Over it, its streams wait before
  // reading their next batch.
  double caller_events_per_second = 0;
  double caller_burst_events = 0;  // 0: one second's worth
  // gRPC address of the OTLP door (opentelemetry.proto.collector.metrics.v1.MetricsService), with
  // the same TLS, tokens and connection limits as listen_address; "" serves no OTLP.
  std::string otlp_address = "127.0.0.1:4317";
  // Most data points in one OTLP export; more is refused with INVALID_ARGUMENT.
  size_t otlp_max_points_per_export = 10000;
  // OTLP exports in flight (received, not yet answered) over all callers and per caller; one
  // more is answered UNAVAILABLE (exporters retry it). With max_message_bytes they bound the
  // memory exports hold.
  size_t otlp_max_exports = 256;
  size_t otlp_max_exports_per_caller = 64;
  // Cumulative sum series whose last point is remembered to compute increases; past it the least
  // recently seen is forgotten (about 300 bytes each).
  size_t otlp_cumulative_series = 200000;
  // On SIGTERM: how long open streams may take to finish before they are cancelled.
  absl::Duration shutdown_grace = absl::Seconds(30);
  // On SIGTERM, after the streams: how long Kafka may take to confirm what is in flight.
  absl::Duration flush_timeout = absl::Seconds(30);
};

// Defaults, then STREAMMETRICS_* variables, then flags. Fails with InvalidArgument naming the bad
// setting, or Cancelled after printing the usage for --help.
absl::StatusOr<IngestConfig> LoadIngestConfig(int argc, const char* const* argv);

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_CONFIG_H_
