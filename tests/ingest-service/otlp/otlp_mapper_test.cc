// Tests of MapExport, one mapping row of docs/otlp.md at a time: gauges, delta and cumulative
// sums (baseline, increase, retry, reset, restart, stale), levels, both histogram kinds, the
// refusals (Summary, cumulative histograms, missing sum/min/max, missing service.name, no value),
// skipped points, the resource's instance fallbacks, and keys derived from content alone.
#include "ingest-service/otlp/otlp_mapper.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ingest-service/otlp/otlp_test_requests.h"

namespace streammetrics::ingest::otlp {
namespace {

using ::testing::HasSubstr;
using testing::kNowNanos;
using testing::kSecond;
using testing::RequestBuilder;
using ::testing::StartsWith;
using testing::pm::AGGREGATION_TEMPORALITY_CUMULATIVE;
using testing::pm::AGGREGATION_TEMPORALITY_DELTA;
using testing::pm::AGGREGATION_TEMPORALITY_UNSPECIFIED;

constexpr uint64_t kT = kNowNanos - 10 * kSecond;

size_t Skipped(const MappedExport& m, Skip s) { return m.skipped[static_cast<size_t>(s)]; }

class OtlpMapperTest : public ::testing::Test {
 protected:
  MappedExport Map(const ExportRequest& request) { return MapExport(request, {}, &tracker_); }
  CumulativeTracker tracker_{1000};
};

TEST_F(OtlpMapperTest, GaugePointsBecomeOneEventEach) {
  RequestBuilder b;
  b.Gauge("queue.depth", kT, 12.5, {{"queue", "orders"}});
  b.Gauge("queue.depth", kT + kSecond, -3, {{"queue", "orders"}})->set_as_int(-3);
  const MappedExport m = Map(b.request());
  EXPECT_EQ(m.points, 2u);
  ASSERT_EQ(m.events.size(), 2u);
  const v1::MetricEvent& e = m.events[0].event;
  EXPECT_EQ(e.service_id(), "checkout");
  EXPECT_EQ(e.instance_id(), "pod-1");
  EXPECT_EQ(e.metric_name(), "queue.depth");
  EXPECT_EQ(e.unit(), "ms");
  EXPECT_EQ(e.metric_type(), v1::METRIC_TYPE_CUSTOM_GAUGE);
  EXPECT_EQ(e.value(), 12.5);
  EXPECT_EQ(e.tags().at("queue"), "orders");
  EXPECT_EQ(e.tags_size(), 1);
  EXPECT_EQ(e.timestamp().seconds(), static_cast<int64_t>(kT / kSecond));
  EXPECT_EQ(e.timestamp().nanos(), 0);
  const events::IdempotencyKey& k = m.events[0].key;
  EXPECT_THAT(k.client_id, StartsWith("otlp-"));
  EXPECT_EQ(k.client_id.size(), 5u + 32u);
  EXPECT_EQ(k.sequence, kT);
  EXPECT_EQ(k.event_index, 0u);
  EXPECT_EQ(e.event_id(), absl::StrCat(k.client_id, "-", kT));
  EXPECT_EQ(m.events[1].event.value(), -3);  // as_int
  // Same series, same start: the same client id; the time tells points apart.
  EXPECT_EQ(m.events[1].key.client_id, k.client_id);
  EXPECT_EQ(m.events[1].key.sequence, kT + kSecond);
}

TEST_F(OtlpMapperTest, DeltaSumsAreTheirIncrease) {
  RequestBuilder b;
  b.Sum("requests", AGGREGATION_TEMPORALITY_DELTA, true, kT - kSecond, kT, 7);
  b.Sum("requests", AGGREGATION_TEMPORALITY_DELTA, true, kT, kT + kSecond, 0);
  b.Sum("inflight", AGGREGATION_TEMPORALITY_DELTA, false, kT - kSecond, kT, -2);
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.events.size(), 2u);
  EXPECT_EQ(m.events[0].event.metric_type(), v1::METRIC_TYPE_CUSTOM_COUNTER);
  EXPECT_EQ(m.events[0].event.value(), 7);
  EXPECT_EQ(m.events[1].event.metric_type(), v1::METRIC_TYPE_CUSTOM_GAUGE);
  EXPECT_EQ(m.events[1].event.value(), -2);
  EXPECT_EQ(Skipped(m, Skip::kZeroDelta), 1u);
  // Delta points of one series each start where the previous ended: different client ids.
  EXPECT_EQ(m.points, 3u);
}

TEST_F(OtlpMapperTest, CumulativeSumsBecomeIncreases) {
  const uint64_t start = kT - 100 * kSecond;
  auto point = [&](uint64_t s, uint64_t t, double v) {
    RequestBuilder b;
    b.Sum("bytes", AGGREGATION_TEMPORALITY_CUMULATIVE, true, s, t, v);
    return Map(b.request());
  };
  MappedExport m = point(start, kT, 100);
  EXPECT_TRUE(m.events.empty());
  EXPECT_EQ(Skipped(m, Skip::kBaseline), 1u);

  m = point(start, kT + kSecond, 130);
  ASSERT_EQ(m.events.size(), 1u);
  EXPECT_EQ(m.events[0].event.value(), 30);
  EXPECT_EQ(m.events[0].event.metric_type(), v1::METRIC_TYPE_CUSTOM_COUNTER);
  const events::IdempotencyKey first_key = m.events[0].key;

  // The exporter retries the same export: the same increase with the same key.
  m = point(start, kT + kSecond, 130);
  ASSERT_EQ(m.events.size(), 1u);
  EXPECT_EQ(m.events[0].event.value(), 30);
  EXPECT_EQ(m.events[0].key, first_key);

  m = point(start, kT, 100);  // older: ignored
  EXPECT_TRUE(m.events.empty());
  EXPECT_EQ(Skipped(m, Skip::kStale), 1u);

  m = point(start, kT + 2 * kSecond, 130);  // no change
  EXPECT_EQ(Skipped(m, Skip::kZeroDelta), 1u);

  m = point(start, kT + 3 * kSecond, 20);  // went down, same start: a reset, new baseline
  EXPECT_TRUE(m.events.empty());
  EXPECT_EQ(Skipped(m, Skip::kReset), 1u);
  m = point(start, kT + 4 * kSecond, 25);
  ASSERT_EQ(m.events.size(), 1u);
  EXPECT_EQ(m.events[0].event.value(), 5);

  // The process restarted: a new start time, and everything since it is increase.
  m = point(kT + 5 * kSecond, kT + 6 * kSecond, 8);
  ASSERT_EQ(m.events.size(), 1u);
  EXPECT_EQ(m.events[0].event.value(), 8);
  EXPECT_NE(m.events[0].key.client_id, first_key.client_id);
  m = point(start, kT + 7 * kSecond, 500);  // a point of the previous life: ignored
  EXPECT_EQ(Skipped(m, Skip::kStale), 1u);
}

TEST_F(OtlpMapperTest, CumulativeNonMonotonicSumsAreLevels) {
  RequestBuilder b;
  b.Sum("connections", AGGREGATION_TEMPORALITY_CUMULATIVE, false, kT - kSecond, kT, 42);
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.events.size(), 1u);
  EXPECT_EQ(m.events[0].event.value(), 42);
  EXPECT_EQ(m.events[0].event.metric_type(), v1::METRIC_TYPE_CUSTOM_GAUGE);
  EXPECT_EQ(tracker_.size(), 0u);
}

TEST_F(OtlpMapperTest, SumWithoutTemporalityIsRefused) {
  RequestBuilder b;
  b.Sum("requests", AGGREGATION_TEMPORALITY_UNSPECIFIED, true, kT - kSecond, kT, 7);
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.rejections.size(), 1u);
  EXPECT_EQ(m.rejections[0].reason, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT);
  EXPECT_THAT(m.rejections[0].message, HasSubstr("aggregation temporality"));
}

TEST_F(OtlpMapperTest, ExponentialHistogramsBecomeDistributions) {
  RequestBuilder b;
  auto* p = b.Exponential("latency", AGGREGATION_TEMPORALITY_DELTA, kT - kSecond, kT, {2, 0, 3},
                          14.5, 2.4, 3.3);
  p->set_zero_count(1);
  p->set_count(6);
  p->set_zero_threshold(1e-9);
  p->mutable_negative()->set_offset(-2);
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.events.size(), 1u);
  const v1::MetricEvent& e = m.events[0].event;
  EXPECT_EQ(e.metric_type(), v1::METRIC_TYPE_CUSTOM_HISTOGRAM);
  EXPECT_EQ(e.value(), 0);
  const v1::Distribution& d = e.distribution();
  EXPECT_EQ(d.count(), 6u);
  EXPECT_EQ(d.sum(), 14.5);
  EXPECT_EQ(d.min(), 2.4);
  EXPECT_EQ(d.max(), 3.3);
  ASSERT_TRUE(d.has_exponential());
  EXPECT_EQ(d.exponential().scale(), 3);
  EXPECT_EQ(d.exponential().zero_count(), 1u);
  EXPECT_EQ(d.exponential().zero_threshold(), 1e-9);
  EXPECT_EQ(d.exponential().positive_offset(), 10);
  EXPECT_THAT(d.exponential().positive_counts(), ::testing::ElementsAre(2, 0, 3));
  EXPECT_EQ(d.exponential().negative_offset(), -2);
}

TEST_F(OtlpMapperTest, ExplicitHistogramsBecomeDistributions) {
  RequestBuilder b;
  b.Histogram("size", AGGREGATION_TEMPORALITY_DELTA, kT - kSecond, kT, {10, 100}, {1, 3, 2}, 700, 2,
              400);
  auto* bucketless =
      b.Histogram("size", AGGREGATION_TEMPORALITY_DELTA, kT, kT + kSecond, {}, {}, 50, 5, 30);
  bucketless->set_count(4);
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.events.size(), 2u);
  const v1::ExplicitBuckets& e = m.events[0].event.distribution().explicit_bounds();
  EXPECT_THAT(e.bounds(), ::testing::ElementsAre(10, 100));
  EXPECT_THAT(e.counts(), ::testing::ElementsAre(1, 3, 2));
  EXPECT_EQ(m.events[0].event.distribution().count(), 6u);
  const v1::ExplicitBuckets& one = m.events[1].event.distribution().explicit_bounds();
  EXPECT_TRUE(one.bounds().empty());
  EXPECT_THAT(one.counts(), ::testing::ElementsAre(4));
}

TEST_F(OtlpMapperTest, HistogramsThatCannotBeExactAreRefused) {
  RequestBuilder b;
  b.Histogram("a", AGGREGATION_TEMPORALITY_CUMULATIVE, kT - kSecond, kT, {10}, {1, 1}, 12, 2, 10);
  b.Exponential("b", AGGREGATION_TEMPORALITY_CUMULATIVE, kT - kSecond, kT, {1}, 2.5, 2.5, 2.5);
  b.Histogram("c", AGGREGATION_TEMPORALITY_DELTA, kT - kSecond, kT, {10}, {1, 1}, 12, 2, 10)
      ->clear_min();
  b.Exponential("d", AGGREGATION_TEMPORALITY_DELTA, kT - kSecond, kT, {1}, 2.5, 2.5, 2.5)
      ->clear_sum();
  b.Histogram("e", AGGREGATION_TEMPORALITY_UNSPECIFIED, kT - kSecond, kT, {10}, {1, 1}, 12, 2, 10);
  const MappedExport m = Map(b.request());
  EXPECT_TRUE(m.events.empty());
  ASSERT_EQ(m.rejections.size(), 5u);
  for (const PointRejection& r : m.rejections) {
    EXPECT_EQ(r.reason, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT) << r.message;
  }
  EXPECT_THAT(m.rejections[0].message, HasSubstr("CUMULATIVE"));
  EXPECT_THAT(m.rejections[0].message,
              HasSubstr("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta"));
  EXPECT_EQ(m.rejections[0].original_type, "opentelemetry.proto.metrics.v1.HistogramDataPoint");
  EXPECT_EQ(m.rejections[1].original_type,
            "opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint");
  EXPECT_THAT(m.rejections[2].message, HasSubstr("without sum, min or max"));
  EXPECT_THAT(m.rejections[3].message, HasSubstr("without sum, min or max"));
  EXPECT_THAT(m.rejections[4].message, HasSubstr("unspecified temporality"));
  // The dead letter carries the point as sent.
  testing::pm::HistogramDataPoint back;
  ASSERT_TRUE(back.ParseFromString(m.rejections[0].original));
  EXPECT_EQ(back.count(), 2u);
}

TEST_F(OtlpMapperTest, SummariesAreRefused) {
  RequestBuilder b;
  b.Summary("rpc.duration", kT);
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.rejections.size(), 1u);
  EXPECT_EQ(m.rejections[0].reason, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT);
  EXPECT_THAT(m.rejections[0].message, HasSubstr("metric \"rpc.duration\" is a Summary"));
  EXPECT_EQ(m.rejections[0].original_type, "opentelemetry.proto.metrics.v1.SummaryDataPoint");
  EXPECT_EQ(m.rejections[0].key.sequence, kT);
}

TEST_F(OtlpMapperTest, MissingServiceNameRefusesEveryPointOfTheResource) {
  RequestBuilder b(std::nullopt);
  b.Gauge("g", kT, 1);
  b.Sum("s", AGGREGATION_TEMPORALITY_CUMULATIVE, true, kT - kSecond, kT, 5);
  const MappedExport m = Map(b.request());
  EXPECT_TRUE(m.events.empty());
  ASSERT_EQ(m.rejections.size(), 2u);
  for (const PointRejection& r : m.rejections) {
    EXPECT_EQ(r.reason, v1::DEAD_LETTER_REASON_MISSING_SERVICE_NAME);
    EXPECT_THAT(r.message, HasSubstr("service.name"));
  }
  EXPECT_EQ(tracker_.size(), 0u);  // refused points leave no state
}

TEST_F(OtlpMapperTest, InstanceFallsBackToHostNameThenUnknown) {
  RequestBuilder b("svc", "");
  b.Gauge("g", kT, 1);
  EXPECT_EQ(Map(b.request()).events[0].event.instance_id(), kUnknownInstance);
  auto* host = b.resource()->add_attributes();
  host->set_key("host.name");
  host->mutable_value()->set_string_value("node-7");
  EXPECT_EQ(Map(b.request()).events[0].event.instance_id(), "node-7");
}

TEST_F(OtlpMapperTest, NoRecordedValueAndEmptyPointsAreSkipped) {
  RequestBuilder b;
  b.Gauge("g", kT, 1)->set_flags(testing::pm::DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK);
  b.Gauge("g", kT + 1, 1)->clear_as_double();
  b.Histogram("h", AGGREGATION_TEMPORALITY_DELTA, kT - kSecond, kT, {}, {}, 0, 0, 0);
  const MappedExport m = Map(b.request());
  EXPECT_TRUE(m.events.empty());
  EXPECT_EQ(Skipped(m, Skip::kNoValue), 1u);
  EXPECT_EQ(Skipped(m, Skip::kEmpty), 1u);
  ASSERT_EQ(m.rejections.size(), 1u);
  EXPECT_THAT(m.rejections[0].message, HasSubstr("without a value"));
  EXPECT_EQ(CountExport(b.request()).points, 3u);
}

TEST_F(OtlpMapperTest, NanPassesToValidationWithoutTouchingCumulativeState) {
  RequestBuilder b;
  b.Gauge("g", kT, std::nan(""));
  b.Sum("s", AGGREGATION_TEMPORALITY_CUMULATIVE, true, kT - kSecond, kT, std::nan(""));
  const MappedExport m = Map(b.request());
  ASSERT_EQ(m.events.size(), 2u);
  EXPECT_TRUE(std::isnan(m.events[0].event.value()));
  EXPECT_TRUE(std::isnan(m.events[1].event.value()));
  EXPECT_EQ(tracker_.size(), 0u);
}

TEST_F(OtlpMapperTest, KeysComeFromContentAlone) {
  auto key_of = [](const RequestBuilder& b) {
    CumulativeTracker tracker(10);
    return MapExport(const_cast<RequestBuilder&>(b).request(), {}, &tracker).events.at(0).key;
  };
  RequestBuilder base;
  base.Gauge("g", kT, 1, {{"a", "1"}, {"b", "2"}});
  const events::IdempotencyKey k = key_of(base);
  EXPECT_EQ(key_of(base), k);  // another instance, another tracker: the same key

  RequestBuilder reordered;  // attributes in another order: the same series
  auto* p = reordered.Gauge("g", kT, 1, {{"b", "2"}});
  auto* a = p->add_attributes();
  a->set_key("a");
  a->mutable_value()->set_string_value("1");
  EXPECT_EQ(key_of(reordered), k);

  std::set<std::string> ids = {k.client_id};
  RequestBuilder other_tag;
  other_tag.Gauge("g", kT, 1, {{"a", "1"}, {"b", "3"}});
  ids.insert(key_of(other_tag).client_id);
  RequestBuilder other_instance("checkout", "pod-2");
  other_instance.Gauge("g", kT, 1, {{"a", "1"}, {"b", "2"}});
  ids.insert(key_of(other_instance).client_id);
  RequestBuilder other_name;
  other_name.Gauge("h", kT, 1, {{"a", "1"}, {"b", "2"}});
  ids.insert(key_of(other_name).client_id);
  RequestBuilder other_start;
  other_start.Gauge("g", kT, 1, {{"a", "1"}, {"b", "2"}})->set_start_time_unix_nano(5);
  ids.insert(key_of(other_start).client_id);
  EXPECT_EQ(ids.size(), 5u);
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
