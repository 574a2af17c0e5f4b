// otlp_mapping_bench: what the OTLP door costs per point before Kafka, against the native door's
// batch preparation of the same content, with Google Benchmark. items = points (or events).
//   BM_NativePrepare     PrepareBatch of a 500-event MetricBatch (validation, series keys, records)
//   BM_OtlpParse         parsing the serialized 500-point export onto an arena
//   BM_OtlpMap           MapExport of it: tags, content keys (two SHA-256 a point), events
//   BM_OtlpPrepare       PrepareExport of the mapped export: validation and records
//   BM_OtlpAll           the three OTLP steps together: compare with BM_NativePrepare
// The content is bench/otlp_stream.cc's and ingest_bench's: 10 services, 100 metric names, a
// method attribute.
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "ingest-service/batch_preparer.h"
#include "ingest-service/otlp/otlp_mapper.h"
#include "ingest-service/otlp/otlp_records.h"

namespace streammetrics::bench {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;
using ingest::otlp::ExportRequest;

constexpr int kPoints = 500;
constexpr int kMetrics = 100;

absl::Time Now() { return absl::FromUnixSeconds(1'800'000'000); }

ExportRequest MakeExport() {
  ExportRequest request;
  auto* rm = request.add_resource_metrics();
  for (const auto& [k, v] :
       {std::pair{"service.name", "svc-3"}, {"service.instance.id", "pod-3"}}) {
    auto* kv = rm->mutable_resource()->add_attributes();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  }
  auto* scope = rm->add_scope_metrics();
  for (int m = 0; m < kMetrics; ++m) {
    pm::Metric* metric = scope->add_metrics();
    metric->set_name(absl::StrFormat("api.latency.%d", m));
    metric->set_unit("ms");
    metric->mutable_gauge();
  }
  const uint64_t t = static_cast<uint64_t>(absl::ToUnixNanos(Now() - absl::Seconds(10)));
  for (int n = 0; n < kPoints; ++n) {
    pm::NumberDataPoint* p =
        scope->mutable_metrics(n % kMetrics)->mutable_gauge()->add_data_points();
    p->set_time_unix_nano(t + static_cast<uint64_t>(n));
    p->set_as_double(1.0 + n % 997);
    auto* kv = p->add_attributes();
    kv->set_key("method");
    kv->mutable_value()->set_string_value(n % 2 ? "GET" : "POST");
  }
  return request;
}

v1::MetricBatch MakeBatch() {
  v1::MetricBatch b;
  b.set_client_id("bench-3");
  b.set_sequence(1);
  const absl::Time t = Now() - absl::Seconds(10);
  for (int n = 0; n < kPoints; ++n) {
    v1::MetricEvent* e = b.add_events();
    e->set_event_id(absl::StrFormat("3-%d", n));
    e->mutable_timestamp()->set_seconds(absl::ToUnixSeconds(t));
    e->set_service_id("svc-3");
    e->set_instance_id("pod-3");
    e->set_metric_type(v1::METRIC_TYPE_CUSTOM_GAUGE);
    e->set_metric_name(absl::StrFormat("api.latency.%d", n % kMetrics));
    e->set_value(1.0 + n % 997);
    e->set_unit("ms");
    (*e->mutable_tags())["method"] = n % 2 ? "GET" : "POST";
  }
  return b;
}

void BM_NativePrepare(benchmark::State& state) {
  const v1::MetricBatch model = MakeBatch();
  for (auto _ : state) {
    v1::MetricBatch batch = model;
    ingest::PreparedBatch p = ingest::PrepareBatch(batch, {}, {}, "bench", Now());
    benchmark::DoNotOptimize(p.bytes);
  }
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_NativePrepare);

void BM_OtlpParse(benchmark::State& state) {
  const std::string bytes = MakeExport().SerializeAsString();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<ExportRequest>(&arena);
    benchmark::DoNotOptimize(request->ParseFromString(bytes));
  }
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_OtlpParse);

void BM_OtlpMap(benchmark::State& state) {
  const ExportRequest request = MakeExport();
  ingest::otlp::CumulativeTracker tracker(1000);
  for (auto _ : state) {
    ingest::otlp::MappedExport mapped = ingest::otlp::MapExport(request, {}, &tracker);
    benchmark::DoNotOptimize(mapped.events.size());
  }
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_OtlpMap);

void BM_OtlpPrepare(benchmark::State& state) {
  const ExportRequest request = MakeExport();
  ingest::otlp::CumulativeTracker tracker(1000);
  const ingest::otlp::MappedExport model = ingest::otlp::MapExport(request, {}, &tracker);
  for (auto _ : state) {
    state.PauseTiming();
    ingest::otlp::MappedExport mapped = model;
    state.ResumeTiming();
    ingest::otlp::PreparedExport p = ingest::otlp::PrepareExport(mapped, {}, {}, "bench", Now());
    benchmark::DoNotOptimize(p.bytes);
  }
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_OtlpPrepare);

void BM_OtlpAll(benchmark::State& state) {
  const std::string bytes = MakeExport().SerializeAsString();
  ingest::otlp::CumulativeTracker tracker(1000);
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<ExportRequest>(&arena);
    request->ParseFromString(bytes);
    ingest::otlp::MappedExport mapped = ingest::otlp::MapExport(*request, {}, &tracker);
    ingest::otlp::PreparedExport p = ingest::otlp::PrepareExport(mapped, {}, {}, "bench", Now());
    benchmark::DoNotOptimize(p.bytes);
  }
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_OtlpAll);

}  // namespace
}  // namespace streammetrics::bench

BENCHMARK_MAIN();
