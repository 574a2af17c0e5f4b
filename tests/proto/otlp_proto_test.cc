// The vendored OpenTelemetry metrics protocol (proto/opentelemetry/): the service an OTLP exporter
// calls and the numbers the OTLP door's mapping relies on. A refresh of the files to a release
// that renamed or renumbered any of them fails here, before anything is mapped wrongly.
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"

namespace opentelemetry::proto {
namespace {

using collector::metrics::v1::ExportMetricsServiceRequest;
using collector::metrics::v1::ExportMetricsServiceResponse;
using google::protobuf::DescriptorPool;

TEST(OtlpProtoTest, TheMetricsServiceIsWhereExportersSendTo) {
  const google::protobuf::ServiceDescriptor* service =
      DescriptorPool::generated_pool()->FindServiceByName(
          "opentelemetry.proto.collector.metrics.v1.MetricsService");
  ASSERT_NE(service, nullptr);
  const google::protobuf::MethodDescriptor* exp = service->FindMethodByName("Export");
  ASSERT_NE(exp, nullptr);
  EXPECT_EQ(exp->input_type(), ExportMetricsServiceRequest::descriptor());
  EXPECT_EQ(exp->output_type(), ExportMetricsServiceResponse::descriptor());
  EXPECT_FALSE(exp->client_streaming());
  EXPECT_FALSE(exp->server_streaming());
  // Partial success carries the refused points and a reason.
  const auto* partial =
      ExportMetricsServiceResponse::descriptor()->FindFieldByName("partial_success");
  ASSERT_NE(partial, nullptr);
  EXPECT_NE(partial->message_type()->FindFieldByName("rejected_data_points"), nullptr);
  EXPECT_NE(partial->message_type()->FindFieldByName("error_message"), nullptr);
}

TEST(OtlpProtoTest, MetricKindsAndTemporalityKeepTheirNumbers) {
  const auto* metric = metrics::v1::Metric::descriptor();
  for (const auto& [name, number] :
       std::vector<std::pair<std::string, int>>{{"gauge", 5},
                                                {"sum", 7},
                                                {"histogram", 9},
                                                {"exponential_histogram", 10},
                                                {"summary", 11}}) {
    const auto* field = metric->FindFieldByName(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_EQ(field->number(), number) << name;
    EXPECT_EQ(field->containing_oneof()->name(), "data") << name;
  }
  EXPECT_EQ(metrics::v1::AGGREGATION_TEMPORALITY_DELTA, 1);
  EXPECT_EQ(metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE, 2);
}

TEST(OtlpProtoTest, AnExportWithEveryPointKindRoundTrips) {
  ExportMetricsServiceRequest request;
  auto* rm = request.add_resource_metrics();
  auto* service_name = rm->mutable_resource()->add_attributes();
  service_name->set_key("service.name");
  service_name->mutable_value()->set_string_value("checkout");
  auto* sm = rm->add_scope_metrics();
  auto* gauge = sm->add_metrics();
  gauge->set_name("queue.depth");
  auto* g = gauge->mutable_gauge()->add_data_points();
  g->set_time_unix_nano(1'800'000'000'000'000'000ULL);
  g->set_as_double(12.5);
  auto* sum = sm->add_metrics();
  sum->set_name("requests");
  sum->mutable_sum()->set_aggregation_temporality(metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->add_data_points()->set_as_int(42);
  auto* hist = sm->add_metrics();
  hist->set_name("http.server.duration");
  hist->set_unit("ms");
  auto* e = hist->mutable_exponential_histogram()->add_data_points();
  e->set_scale(3);
  e->set_count(5);
  e->set_sum(40.5);
  e->set_min(1.5);
  e->set_max(20);
  e->set_zero_count(1);
  e->mutable_positive()->set_offset(-2);
  e->mutable_positive()->add_bucket_counts(3);
  e->mutable_positive()->add_bucket_counts(1);

  ExportMetricsServiceRequest back;
  ASSERT_TRUE(back.ParseFromString(request.SerializeAsString()));
  ASSERT_EQ(back.resource_metrics(0).scope_metrics(0).metrics_size(), 3);
  const auto& m = back.resource_metrics(0).scope_metrics(0).metrics();
  EXPECT_EQ(m[0].data_case(), metrics::v1::Metric::kGauge);
  EXPECT_EQ(m[1].data_case(), metrics::v1::Metric::kSum);
  EXPECT_EQ(m[1].sum().data_points(0).as_int(), 42);
  ASSERT_EQ(m[2].data_case(), metrics::v1::Metric::kExponentialHistogram);
  const auto& point = m[2].exponential_histogram().data_points(0);
  EXPECT_EQ(point.scale(), 3);
  EXPECT_TRUE(point.has_min());
  EXPECT_EQ(point.positive().offset(), -2);
  EXPECT_THAT(point.positive().bucket_counts(), ::testing::ElementsAre(3, 1));
}

}  // namespace
}  // namespace opentelemetry::proto
