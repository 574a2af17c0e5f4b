// The OTLP door end to end: OTLP exports (gauges, delta and cumulative sums, an exponential
// histogram) sent to the real ingest binary's MetricsService/Export, counted by the real
// aggregation binary, read back through QueryService. Count, sum, min and max must be exact and
// the percentiles within the stated error; the whole export sent twice (an exporter retrying after
// a lost answer) must count once.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/security/client_security.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "streammetrics/v1/query.grpc.pb.h"
#include "tests/ingest-service/otlp/otlp_test_requests.h"
#include "tests/integration/pipeline_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {
namespace {

namespace collector = opentelemetry::proto::collector::metrics::v1;
namespace pm = opentelemetry::proto::metrics::v1;
using ingest::otlp::testing::RequestBuilder;

constexpr int kScale = 6;  // base 2^(1/64): buckets 1.1 % wide, half-width 0.54 %

// Fills `p` as an OpenTelemetry SDK would for `values` (all > 0) at kScale.
void FillExponential(const std::vector<double>& values, pm::ExponentialHistogramDataPoint* p) {
  std::map<int64_t, uint64_t> buckets;
  double sum = 0;
  for (double v : values) {
    sum += v;
    ++buckets[static_cast<int64_t>(std::ceil(std::ldexp(std::log2(v), kScale))) - 1];
  }
  p->set_count(values.size());
  p->set_sum(sum);
  p->set_min(*std::min_element(values.begin(), values.end()));
  p->set_max(*std::max_element(values.begin(), values.end()));
  p->set_scale(kScale);
  const int64_t lo = buckets.begin()->first;
  p->mutable_positive()->set_offset(static_cast<int32_t>(lo));
  for (int64_t i = lo; i <= buckets.rbegin()->first; ++i) {
    p->mutable_positive()->add_bucket_counts(buckets.count(i) ? buckets[i] : 0);
  }
}

double TrueQuantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
}

class OtlpPipelineTest : public PipelineTest {
 protected:
  grpc::Status Export(const ingest::otlp::testing::ExportRequest& request,
                      collector::ExportMetricsServiceResponse* response) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        security::MakeChannel(ingest_->otlp_address(), client_);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, channel.status().ToString());
    auto stub = collector::MetricsService::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!ingest_token_.empty()) ctx.AddMetadata("authorization", "Bearer " + ingest_token_);
    return stub->Export(&ctx, request, response);
  }

  // The final 1-minute windows of `service` starting in [from, to), by metric name; waits until
  // `metrics` of them are final.
  std::map<std::string, v1::WindowAggregate> FinalWindows(const std::string& service,
                                                          absl::Time from, absl::Time to,
                                                          size_t metrics) {
    std::map<std::string, v1::WindowAggregate> windows;
    PollUntil(absl::Minutes(3), [&] {
      v1::QueryAggregatesResponse page;
      if (!QueryWindows(service, from, to, &page)) return false;
      windows.clear();
      for (const v1::WindowAggregate& w : page.windows()) {
        if (w.is_final()) windows[w.series().metric_name()] = w;
      }
      return windows.size() >= metrics;
    });
    return windows;
  }

  // One page (up to 1,000) of the 1-minute windows of `service` starting in [from, to), open or
  // final; false when the query failed.
  bool QueryWindows(const std::string& service, absl::Time from, absl::Time to,
                    v1::QueryAggregatesResponse* page) {
    v1::QueryAggregatesRequest r;
    r.set_service_id(service);
    r.set_window_size(v1::WINDOW_SIZE_1M);
    *r.mutable_start() = aggregation::TimeToProto(from);
    *r.mutable_end() = aggregation::TimeToProto(to);
    r.set_page_size(1000);
    grpc::ClientContext ctx;
    if (!query_token_.empty()) ctx.AddMetadata("authorization", "Bearer " + query_token_);
    return v1::QueryService::NewStub(QueryChannel())->QueryAggregates(&ctx, r, page).ok();
  }
};

TEST_F(OtlpPipelineTest, ExportedPointsAreCountedExactlyOnce) {
  const std::string service = "otlp-" + run_id_;
  // All points in one 1-minute window, old enough for it to be final as soon as the aggregator
  // has read them (see the fixture).
  const absl::Time minute = aggregation::WindowStart(absl::Now() - kTimeOffset, absl::Minutes(1));
  const auto at = [&](int seconds) {
    return static_cast<uint64_t>(absl::ToUnixNanos(minute + absl::Seconds(seconds)));
  };
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> latency(3, 0.8);
  std::vector<double> latencies;
  for (int i = 0; i < 5000; ++i) latencies.push_back(latency(rng));

  RequestBuilder b(service, "pod-1");
  b.Gauge("cpu.utilization", at(1), 0.5, {{"core", "0"}});
  b.Gauge("cpu.utilization", at(2), 0.75, {{"core", "0"}});
  b.Sum("http.requests", pm::AGGREGATION_TEMPORALITY_DELTA, true, at(0), at(10), 3);
  b.Sum("http.requests", pm::AGGREGATION_TEMPORALITY_DELTA, true, at(10), at(20), 4);
  const uint64_t start = at(0) - 3600 * ingest::otlp::testing::kSecond;
  b.Sum("bytes.sent", pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, start, at(5), 100);
  b.Sum("bytes.sent", pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, start, at(15), 160);
  b.Sum("bytes.sent", pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, start, at(25), 200);
  FillExponential(latencies, b.Exponential("http.latency", pm::AGGREGATION_TEMPORALITY_DELTA, at(0),
                                           at(30), {}, 0, 0, 0));
  b.Summary("legacy.summary", at(30));

  collector::ExportMetricsServiceResponse first;
  grpc::Status status = Export(b.request(), &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(first.partial_success().rejected_data_points(), 1);  // the Summary
  EXPECT_THAT(first.partial_success().error_message(), ::testing::HasSubstr("Summary"));
  // The exporter lost the answer and sends the same export again.
  collector::ExportMetricsServiceResponse again;
  status = Export(b.request(), &again);
  ASSERT_TRUE(status.ok()) << status.error_message();

  ASSERT_NO_FATAL_FAILURE(StartAggregator());
  const std::map<std::string, v1::WindowAggregate> w =
      FinalWindows(service, minute - absl::Minutes(1), minute + absl::Minutes(2), 4);
  ASSERT_EQ(w.size(), 4u) << "not every window became final";

  const v1::WindowAggregate& cpu = w.at("cpu.utilization");
  EXPECT_EQ(cpu.count(), 2u);
  EXPECT_EQ(cpu.sum(), 1.25);
  EXPECT_EQ(cpu.min(), 0.5);
  EXPECT_EQ(cpu.max(), 0.75);
  EXPECT_EQ(cpu.series().tags().at("core"), "0");

  const v1::WindowAggregate& requests = w.at("http.requests");
  EXPECT_EQ(requests.count(), 2u);
  EXPECT_EQ(requests.sum(), 7);

  const v1::WindowAggregate& bytes = w.at("bytes.sent");  // baseline 100, then +60 and +40
  EXPECT_EQ(bytes.count(), 2u);
  EXPECT_EQ(bytes.sum(), 100);
  EXPECT_EQ(bytes.min(), 40);
  EXPECT_EQ(bytes.max(), 60);

  const v1::WindowAggregate& lat = w.at("http.latency");
  const pm::ExponentialHistogramDataPoint& sent = b.request()
                                                      .resource_metrics(0)
                                                      .scope_metrics(0)
                                                      .metrics(3)
                                                      .exponential_histogram()
                                                      .data_points(0);
  EXPECT_EQ(lat.count(), latencies.size());
  EXPECT_EQ(lat.sum(), sent.sum());
  EXPECT_EQ(lat.min(), sent.min());
  EXPECT_EQ(lat.max(), sent.max());
  const double base = std::exp2(std::ldexp(1.0, -kScale));
  const double bound = (1 + (base - 1) / (base + 1)) * (1 + lat.relative_accuracy()) - 1;
  for (const auto& [q, got] : {std::pair{0.5, lat.p50()}, {0.95, lat.p95()}, {0.99, lat.p99()}}) {
    const double want = TrueQuantile(latencies, q);
    EXPECT_LE(std::abs(got - want), bound * want) << "q " << q << " want " << want;
  }
}

// A real OpenTelemetry client: the Python SDK and its OTLP/gRPC exporter
// (tests/integration/otel_sdk_export.py) send counters, an up-down counter, an observable gauge,
// an exponential and an explicit histogram with delta temporality, and a counter with the SDK's
// default cumulative temporality. Its points carry the current time, so the windows are compared
// while still open: the test waits until every window holds what the SDK recorded.
TEST_F(OtlpPipelineTest, OpenTelemetryPythonSdkExportsAreCountedExactly) {
  const char* python = std::getenv("STREAMMETRICS_OTEL_PYTHON");
  ASSERT_TRUE(python != nullptr && *python != '\0')
      << "STREAMMETRICS_OTEL_PYTHON is not set: run deploy/install-deps.sh and source "
         "deploy/env.sh (tests/run.sh does both)";
  ASSERT_NO_FATAL_FAILURE(StartAggregator());
  const std::string service = "otel-sdk-" + run_id_;
  const std::string expected_path = absl::StrCat(::testing::TempDir(), "/otel-", run_id_, ".json");
  const absl::Time from = aggregation::WindowStart(absl::Now(), absl::Minutes(1));
  const pid_t pid = Spawn({python, STREAMMETRICS_SOURCE_DIR "/tests/integration/otel_sdk_export.py",
                           ingest_->otlp_address(), service, expected_path});
  ASSERT_GT(pid, 0);
  int wstatus = 0;
  ASSERT_TRUE(PollUntil(absl::Minutes(2), [&] { return waitpid(pid, &wstatus, WNOHANG) == pid; }))
      << "the SDK script did not finish";
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "the SDK script failed";
  std::ifstream in(expected_path);
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  google::protobuf::Struct expected;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &expected).ok()) << json;

  // Every window of each metric, open or final, merged: count and sum add, min and max fold.
  std::map<std::string, v1::WindowAggregate> merged;
  auto matches = [&] {
    for (const auto& [name, want] : expected.fields()) {
      const auto it = merged.find(name);
      if (it == merged.end()) return false;
      if (it->second.count() !=
          static_cast<uint64_t>(want.struct_value().fields().at("count").number_value())) {
        return false;
      }
    }
    return true;
  };
  PollUntil(absl::Minutes(2), [&] {
    v1::QueryAggregatesResponse page;
    if (!QueryWindows(service, from - absl::Minutes(1), absl::Now() + absl::Minutes(2), &page)) {
      return false;
    }
    merged.clear();
    for (const v1::WindowAggregate& w : page.windows()) {
      auto [it, added] = merged.try_emplace(w.series().metric_name(), w);
      if (added) continue;
      v1::WindowAggregate& m = it->second;
      m.set_count(m.count() + w.count());
      m.set_sum(m.sum() + w.sum());
      m.set_min(std::min(m.min(), w.min()));
      m.set_max(std::max(m.max(), w.max()));
    }
    return matches();
  });
  for (const auto& [name, want_value] : expected.fields()) {
    SCOPED_TRACE(name);
    const auto& want = want_value.struct_value().fields();
    ASSERT_TRUE(merged.count(name)) << "no window";
    const v1::WindowAggregate& got = merged.at(name);
    EXPECT_EQ(got.count(), static_cast<uint64_t>(want.at("count").number_value()));
    EXPECT_NEAR(got.sum(), want.at("sum").number_value(), 1e-9 * std::abs(got.sum()));
    if (want.count("min")) {
      EXPECT_EQ(got.min(), want.at("min").number_value());
    }
    if (want.count("max")) {
      EXPECT_EQ(got.max(), want.at("max").number_value());
    }
    for (const char* q : {"p50", "p95", "p99"}) {
      if (!want.count(q)) continue;
      const double w = want.at(q).number_value();
      const double g = q[1] == '5' ? got.p50() : q[2] == '5' ? got.p95() : got.p99();
      // The SDK picks the scale (at most 160 buckets a side): 1,000 log-normal values fit scale
      // 4, half-width 2.2 %, so with the sketch's 1 % the bound is 3.2 %; 5 % leaves room.
      EXPECT_LE(std::abs(g - w), 0.05 * w) << q;
    }
  }
}

}  // namespace
}  // namespace streammetrics::testing
