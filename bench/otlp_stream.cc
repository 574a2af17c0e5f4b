// OtlpStream (see otlp_stream.h). The points mirror ingest_bench's native events: 10 services,
// `series` metric names, a method attribute, values 1..997, each point with a time of its own so
// that its content-derived key is unique.
#include "bench/otlp_stream.h"

#include <cstdio>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"

namespace streammetrics::bench {
namespace {

namespace collector = opentelemetry::proto::collector::metrics::v1;
namespace pm = opentelemetry::proto::metrics::v1;

collector::ExportMetricsServiceRequest MakeExport(const OtlpStreamOptions& o, int stream) {
  collector::ExportMetricsServiceRequest request;
  auto* rm = request.add_resource_metrics();
  auto add = [&](const char* key, const std::string& value) {
    auto* kv = rm->mutable_resource()->add_attributes();
    kv->set_key(key);
    kv->mutable_value()->set_string_value(value);
  };
  add("service.name", absl::StrFormat("svc-%d", stream % 10));
  add("service.instance.id", absl::StrFormat("pod-%d", stream));
  auto* scope = rm->add_scope_metrics();
  scope->mutable_scope()->set_name("ingest_bench");
  const int64_t metrics = o.series / 10 + 1;
  for (int64_t m = 0; m < metrics && m < o.points; ++m) {
    pm::Metric* metric = scope->add_metrics();
    metric->set_name(absl::StrFormat("api.latency.%d", m));
    metric->set_unit("ms");
    metric->mutable_gauge();
  }
  for (int64_t n = 0; n < o.points; ++n) {
    pm::Metric* metric = scope->mutable_metrics(static_cast<int>(n % scope->metrics_size()));
    pm::NumberDataPoint* p = metric->mutable_gauge()->add_data_points();
    p->set_as_double(1.0 + static_cast<double>(n % 997));
    auto* kv = p->add_attributes();
    kv->set_key("method");
    kv->mutable_value()->set_string_value(n % 2 ? "GET" : "POST");
  }
  return request;
}

// Sets every point's time from `base_ns` up, one nanosecond apart.
void Stamp(collector::ExportMetricsServiceRequest* request, uint64_t base_ns) {
  for (pm::Metric& m :
       *request->mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_metrics()) {
    for (pm::NumberDataPoint& p : *m.mutable_gauge()->mutable_data_points()) {
      p.set_time_unix_nano(base_ns++);
    }
  }
}

struct Call {
  grpc::ClientContext context;
  collector::ExportMetricsServiceRequest request;
  collector::ExportMetricsServiceResponse response;
  absl::Time sent;
};

}  // namespace

void OtlpStream(const OtlpStreamOptions& o, int stream, absl::Time end, Results* results) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      security::MakeChannel(o.target, o.security);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", channel.status().ToString().c_str());
    return;
  }
  auto stub = collector::MetricsService::NewStub(*channel);
  const collector::ExportMetricsServiceRequest model = MakeExport(o, stream);
  Window window(o.window);
  // Streams and calls must not share times: nanoseconds apart, a stream's block far from others'.
  uint64_t next_ns = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) +
                     static_cast<uint64_t>(stream) * 1'000'000'000ULL;
  while (absl::Now() < end) {
    if (!window.Acquire(end)) break;
    auto call = std::make_shared<Call>();
    call->request = model;
    Stamp(&call->request, next_ns);
    next_ns += static_cast<uint64_t>(o.points);
    security::AddCallCredentials(o.security, &call->context);
    call->sent = absl::Now();
    stub->async()->Export(&call->context, &call->request, &call->response,
                          [call, results, &window, points = o.points](grpc::Status status) {
                            const bool ok = status.ok() && !call->response.has_partial_success();
                            results->Ack(static_cast<uint64_t>(points), ok,
                                         absl::Now() - call->sent);
                            window.Release();
                          });
  }
  window.Drain();
}

}  // namespace streammetrics::bench
