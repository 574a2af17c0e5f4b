// IngestProcess: see ingest_process.h.
#include "ingest-service/ingest_process.h"

#include <atomic>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ingest-service/batch_preparer.h"
#include "ingest-service/byte_budget.h"
#include "ingest-service/ingest_metrics.h"
#include "ingest-service/ingest_service.h"
#include "ingest-service/otlp/cumulative_tracker.h"
#include "ingest-service/otlp/otlp_metrics.h"
#include "ingest-service/otlp/otlp_service.h"
#include "lib/common/clock.h"
#include "lib/common/grpc_server.h"
#include "lib/common/log.h"
#include "lib/common/metrics_server.h"
#include "lib/common/status_macros.h"
#include "lib/kafka/kafka_record_sink.h"
#include "lib/security/call_guard.h"
#include "lib/security/caller_limits.h"

namespace streammetrics::ingest {

inline constexpr char kServiceName[] = "streammetrics.v1.IngestService";
inline constexpr char kOtlpServiceName[] =
    "opentelemetry.proto.collector.metrics.v1.MetricsService";

// Members in start order: destruction runs in reverse, so a part is destroyed before what it
// uses. Stop() does the orderly part before that.
struct IngestProcess::Parts {
  IngestConfig config;
  IngestMetrics metrics;
  std::unique_ptr<MetricsServer> exposer;
  // Set once the server runs; the sink's health hook may fire on its delivery thread before.
  std::atomic<GrpcServer*> health{nullptr};
  std::unique_ptr<kafka::KafkaRecordSink> sink;
  std::unique_ptr<ByteBudget> budget;
  std::unique_ptr<security::CallGuard> guard;
  std::unique_ptr<security::CallerSlots> streams;
  std::unique_ptr<security::CallerRateLimiter> rate;
  std::unique_ptr<IngestServiceImpl> service;
  std::unique_ptr<GrpcServer> server;
  // The OTLP door: null when otlp_address is "".
  std::unique_ptr<otlp::OtlpMetrics> otlp_metrics;
  std::unique_ptr<otlp::CumulativeTracker> otlp_tracker;
  std::unique_ptr<security::CallerSlots> otlp_exports;
  std::unique_ptr<otlp::OtlpMetricsService> otlp_service;
  std::unique_ptr<GrpcServer> otlp_server;
  std::atomic<GrpcServer*> otlp_health{nullptr};
};

absl::StatusOr<std::unique_ptr<IngestProcess>> IngestProcess::Start(IngestConfig config) {
  auto p = std::make_unique<Parts>();
  p->config = std::move(config);
  const IngestConfig& c = p->config;

  ASSIGN_OR_RETURN(p->exposer, MetricsServer::Start(c.metrics_address, c.metrics_server));
  p->exposer->RegisterCollectable(p->metrics.registry());

  kafka::KafkaSinkHooks hooks;
  hooks.on_delivery = [metrics = &p->metrics, dead_letter_topic = c.topics.dead_letter](
                          const kafka::Record& record, absl::Duration latency, bool ok) {
    metrics->Delivered(record.topic == dead_letter_topic, latency, ok);
  };
  hooks.on_health = [parts = p.get()](bool serving, const std::string& reason) {
    parts->metrics.SetServing(serving);
    if (GrpcServer* server = parts->health.load()) server->SetServing(serving);
    if (GrpcServer* server = parts->otlp_health.load()) server->SetServing(serving);
    SM_LOG(Warn, "health_changed").Kv("serving", serving).Kv("reason", reason);
  };
  kafka::KafkaSinkConfig sink_config = c.kafka;
  sink_config.topics = {c.topics.events, c.topics.dead_letter};
  sink_config.largest_record_bytes = LargestRecordBytes(c.limits);
  absl::StatusOr<std::unique_ptr<kafka::KafkaRecordSink>> sink =
      kafka::KafkaRecordSink::Create(std::move(sink_config), hooks);
  if (!sink.ok()) {
    return absl::Status(sink.status().code(), absl::StrCat("Kafka at ", c.kafka.bootstrap_servers,
                                                           ": ", sink.status().message()));
  }
  p->sink = *std::move(sink);

  p->budget = std::make_unique<ByteBudget>(c.process_bytes_limit);
  ASSIGN_OR_RETURN(p->guard, security::CallGuard::Create(c.security, *p->metrics.registry()));
  p->streams = std::make_unique<security::CallerSlots>("ingest streams", c.max_streams,
                                                       c.max_streams_per_caller);
  p->rate = std::make_unique<security::CallerRateLimiter>(
      c.caller_events_per_second,
      c.caller_burst_events > 0 ? c.caller_burst_events : c.caller_events_per_second,
      RealClock::Get());
  IngestDeps deps;
  deps.sink = p->sink.get();
  deps.budget = p->budget.get();
  deps.clock = RealClock::Get();
  deps.metrics = &p->metrics;
  deps.limits = c.limits;
  deps.topics = c.topics;
  deps.stream_bytes_limit = c.stream_bytes_limit;
  deps.stream_unread_ack_bytes_limit = c.stream_unread_ack_bytes_limit;
  deps.summary_rejections = c.summary_rejections;
  deps.guard = p->guard.get();
  deps.streams = p->streams.get();
  deps.rate = p->rate.get();
  p->service = std::make_unique<IngestServiceImpl>(deps);

  GrpcServerOptions server_options;
  server_options.address = c.listen_address;
  server_options.max_receive_message_bytes = static_cast<int>(c.max_message_bytes);
  server_options.health_services = {kServiceName};
  server_options.security = c.security;
  server_options.limits = c.connection_limits;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(server_options, {p->service.get()});
  if (!server.ok()) return server.status();
  p->server = *std::move(server);
  p->health.store(p->server.get());

  if (!c.otlp_address.empty()) {
    p->otlp_metrics = std::make_unique<otlp::OtlpMetrics>(*p->metrics.registry());
    p->otlp_tracker = std::make_unique<otlp::CumulativeTracker>(c.otlp_cumulative_series);
    p->otlp_exports = std::make_unique<security::CallerSlots>(
        "OTLP exports in flight", c.otlp_max_exports, c.otlp_max_exports_per_caller);
    otlp::OtlpDeps otlp_deps;
    otlp_deps.ingest = deps;
    otlp_deps.tracker = p->otlp_tracker.get();
    otlp_deps.exports = p->otlp_exports.get();
    otlp_deps.metrics = p->otlp_metrics.get();
    otlp_deps.max_points_per_export = c.otlp_max_points_per_export;
    p->otlp_service = std::make_unique<otlp::OtlpMetricsService>(otlp_deps);
    GrpcServerOptions otlp_options = server_options;
    otlp_options.address = c.otlp_address;
    otlp_options.health_services = {kOtlpServiceName};
    absl::StatusOr<std::unique_ptr<GrpcServer>> otlp_server =
        GrpcServer::Start(otlp_options, {p->otlp_service.get()});
    if (!otlp_server.ok()) {
      p->health.store(nullptr);
      p->server->Shutdown(absl::ZeroDuration());
      return absl::Status(otlp_server.status().code(),
                          absl::StrCat("OTLP door: ", otlp_server.status().message()));
    }
    p->otlp_server = *std::move(otlp_server);
    p->otlp_health.store(p->otlp_server.get());
  }

  SM_LOG(Info, "ingest_serving")
      .Kv("grpc", c.listen_address)
      .Kv("port", p->server->port())
      .Kv("otlp", c.otlp_address.empty() ? "off" : c.otlp_address)
      .Kv("metrics", c.metrics_address)
      .Kv("kafka", c.kafka.bootstrap_servers)
      .Kv("events_topic", c.topics.events)
      .Kv("tls", c.security.tls())
      .Kv("mutual_tls", !c.security.tls_client_ca_file.empty())
      .Kv("tokens", c.security.tokens());
  return std::unique_ptr<IngestProcess>(new IngestProcess(std::move(p)));
}

IngestProcess::IngestProcess(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

IngestProcess::~IngestProcess() { (void)Stop(); }

int IngestProcess::port() const { return parts_->server->port(); }

int IngestProcess::otlp_port() const {
  return parts_->otlp_server == nullptr ? 0 : parts_->otlp_server->port();
}

void IngestProcess::Supervise() {
  parts_->metrics.SetQueueDepth(parts_->sink->QueueDepth());
  parts_->metrics.SetBytesInFlight(parts_->budget->used());
  if (parts_->otlp_tracker != nullptr) {
    parts_->otlp_metrics->SampleTracker(parts_->otlp_tracker->size(),
                                        parts_->otlp_tracker->evictions());
  }
}

absl::Status IngestProcess::Stop() {
  if (stopped_) return stop_status_;
  stopped_ = true;
  Parts& p = *parts_;
  // Stops accepting streams at once; open streams finish (clients half-close) until the deadline,
  // then are cancelled. Their accepted events are still flushed below.
  // The sink's health hook must not set SERVING again once shutdown began.
  p.health.store(nullptr);
  p.otlp_health.store(nullptr);
  // The OTLP door first: its exports are short, and shutting it down while the streams drain
  // would add the grace period twice.
  if (p.otlp_server != nullptr) p.otlp_server->Shutdown(p.config.shutdown_grace);
  p.server->Shutdown(p.config.shutdown_grace);
  stop_status_ = p.sink->Close(p.config.flush_timeout);
  if (stop_status_.ok()) {
    SM_LOG(Info, "ingest_stopped");
  } else {
    SM_LOG(Error, "ingest_stopped_with_unconfirmed_records").Kv("status", stop_status_.ToString());
  }
  return stop_status_;
}

}  // namespace streammetrics::ingest
