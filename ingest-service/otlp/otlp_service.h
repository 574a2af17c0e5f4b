// OtlpMetricsService: OpenTelemetry's OTLP/gRPC metrics door,
// opentelemetry.proto.collector.metrics.v1.MetricsService/Export, on its own address. Each export
// is admitted like a native stream (bearer token and scope, the caller's rate, a bounded number
// of exports in flight per caller and per process), mapped (otlp_mapper.h), turned into the same
// records the native door writes (otlp_records.h), charged to the process byte budget, and
// answered only when Kafka has stored every record: OK, with partial_success counting the points
// refused (and dead-lettered); UNAVAILABLE when Kafka did not confirm some (a retry is counted
// once: keys are derived from the content).
//
// Refusals use codes OTLP exporters understand: INVALID_ARGUMENT (not retried) for a message that
// does not parse or holds too many points; UNAVAILABLE (retried with backoff) for a caller over
// its rate or its exports in flight; UNAUTHENTICATED / PERMISSION_DENIED from the CallGuard.
// Nothing here blocks: the wait for budget room is a callback, as on the native door.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_SERVICE_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_SERVICE_H_

#include <cstddef>

#include "grpcpp/grpcpp.h"
#include "ingest-service/ingest_reactor.h"
#include "ingest-service/otlp/cumulative_tracker.h"
#include "ingest-service/otlp/otlp_metrics.h"
#include "lib/security/caller_limits.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"

namespace streammetrics::ingest::otlp {

using MetricsServiceBase =
    opentelemetry::proto::collector::metrics::v1::MetricsService::WithRawCallbackMethod_Export<
        opentelemetry::proto::collector::metrics::v1::MetricsService::Service>;

// What the door needs; everything pointed to must outlive the server. `ingest` supplies the sink,
// budget, clock, metrics, limits, topics, guard and rate limiter (all non-null) of the native door.
struct OtlpDeps {
  IngestDeps ingest;
  CumulativeTracker* tracker = nullptr;
  // Exports in flight per caller and per process.
  security::CallerSlots* exports = nullptr;
  OtlpMetrics* metrics = nullptr;
  // Most data points in one export; more is INVALID_ARGUMENT.
  size_t max_points_per_export = 10000;
};

// Raw (bytes in, bytes out): a request that does not parse is answered with INVALID_ARGUMENT and
// protobuf's reason, where gRPC's own parsing would answer INTERNAL with none.
class OtlpMetricsService final : public MetricsServiceBase {
 public:
  explicit OtlpMetricsService(OtlpDeps deps);

  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  const OtlpDeps deps_;
};

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_SERVICE_H_
