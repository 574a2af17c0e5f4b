// Builds OTLP ExportMetricsServiceRequests for the OTLP door's tests: one resource (service.name
// and service.instance.id unless told otherwise) and one scope, metrics added by name and kind,
// points with attributes. Times are Unix nanoseconds around kNowNanos (2027-01-15T08:00:00Z).
#ifndef STREAMMETRICS_TESTS_INGEST_SERVICE_OTLP_OTLP_TEST_REQUESTS_H_
#define STREAMMETRICS_TESTS_INGEST_SERVICE_OTLP_OTLP_TEST_REQUESTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"

namespace streammetrics::ingest::otlp::testing {

namespace pm = opentelemetry::proto::metrics::v1;
using ExportRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using AttributeMap = std::map<std::string, std::string>;

inline constexpr uint64_t kSecond = 1'000'000'000;
inline constexpr uint64_t kNowNanos = 1'800'000'000 * kSecond;
inline const absl::Time kNow = absl::FromUnixNanos(static_cast<int64_t>(kNowNanos));

inline void SetAttributes(
    const AttributeMap& attributes,
    google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>* out) {
  for (const auto& [k, v] : attributes) {
    auto* kv = out->Add();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  }
}

class RequestBuilder {
 public:
  // service: the service.name attribute, none when nullopt; instance: service.instance.id, none
  // when empty.
  explicit RequestBuilder(std::optional<std::string> service = "checkout",
                          std::string instance = "pod-1") {
    auto* rm = request_.add_resource_metrics();
    AttributeMap resource;
    if (service) resource["service.name"] = *service;
    if (!instance.empty()) resource["service.instance.id"] = instance;
    SetAttributes(resource, rm->mutable_resource()->mutable_attributes());
    scope_ = rm->add_scope_metrics();
    scope_->mutable_scope()->set_name("test-meter");
  }

  // The resource, to add attributes.
  opentelemetry::proto::resource::v1::Resource* resource() {
    return request_.mutable_resource_metrics(0)->mutable_resource();
  }

  pm::NumberDataPoint* Gauge(const std::string& name, uint64_t time, double value,
                             const AttributeMap& attributes = {}) {
    auto* p = Find(name)->mutable_gauge()->add_data_points();
    p->set_time_unix_nano(time);
    p->set_as_double(value);
    SetAttributes(attributes, p->mutable_attributes());
    return p;
  }

  pm::NumberDataPoint* Sum(const std::string& name, pm::AggregationTemporality temporality,
                           bool monotonic, uint64_t start, uint64_t time, double value,
                           const AttributeMap& attributes = {}) {
    pm::Sum* sum = Find(name)->mutable_sum();
    sum->set_aggregation_temporality(temporality);
    sum->set_is_monotonic(monotonic);
    auto* p = sum->add_data_points();
    p->set_start_time_unix_nano(start);
    p->set_time_unix_nano(time);
    p->set_as_double(value);
    SetAttributes(attributes, p->mutable_attributes());
    return p;
  }

  // An exponential histogram point of count/sum/min/max with `positive` counts at scale 3 from
  // offset 10 (bucket 10 holds (2^(10/8), 2^(11/8)]).
  pm::ExponentialHistogramDataPoint* Exponential(const std::string& name,
                                                 pm::AggregationTemporality temporality,
                                                 uint64_t start, uint64_t time,
                                                 const std::vector<uint64_t>& positive, double sum,
                                                 double min, double max) {
    pm::ExponentialHistogram* h = Find(name)->mutable_exponential_histogram();
    h->set_aggregation_temporality(temporality);
    auto* p = h->add_data_points();
    p->set_start_time_unix_nano(start);
    p->set_time_unix_nano(time);
    uint64_t count = 0;
    for (uint64_t c : positive) count += c;
    p->set_count(count);
    p->set_sum(sum);
    p->set_min(min);
    p->set_max(max);
    p->set_scale(3);
    p->mutable_positive()->set_offset(10);
    for (uint64_t c : positive) p->mutable_positive()->add_bucket_counts(c);
    return p;
  }

  pm::HistogramDataPoint* Histogram(const std::string& name, pm::AggregationTemporality temporality,
                                    uint64_t start, uint64_t time,
                                    const std::vector<double>& bounds,
                                    const std::vector<uint64_t>& counts, double sum, double min,
                                    double max) {
    pm::Histogram* h = Find(name)->mutable_histogram();
    h->set_aggregation_temporality(temporality);
    auto* p = h->add_data_points();
    p->set_start_time_unix_nano(start);
    p->set_time_unix_nano(time);
    uint64_t count = 0;
    for (uint64_t c : counts) count += c;
    p->set_count(count);
    p->set_sum(sum);
    p->set_min(min);
    p->set_max(max);
    for (double b : bounds) p->add_explicit_bounds(b);
    for (uint64_t c : counts) p->add_bucket_counts(c);
    return p;
  }

  pm::SummaryDataPoint* Summary(const std::string& name, uint64_t time) {
    auto* p = Find(name)->mutable_summary()->add_data_points();
    p->set_time_unix_nano(time);
    p->set_count(3);
    p->set_sum(30);
    return p;
  }

  ExportRequest& request() { return request_; }

 private:
  pm::Metric* Find(const std::string& name) {
    for (pm::Metric& m : *scope_->mutable_metrics()) {
      if (m.name() == name) return &m;
    }
    pm::Metric* m = scope_->add_metrics();
    m->set_name(name);
    m->set_unit("ms");
    return m;
  }

  ExportRequest request_;
  pm::ScopeMetrics* scope_;
};

}  // namespace streammetrics::ingest::otlp::testing

#endif  // STREAMMETRICS_TESTS_INGEST_SERVICE_OTLP_OTLP_TEST_REQUESTS_H_
