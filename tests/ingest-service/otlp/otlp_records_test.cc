// Tests of PrepareExport: events become event records with their content key in the headers,
// mapping refusals and validation refusals become dead letters naming the metric (with the OTLP
// point as original where it never became an event), and Tally reads the result right.
#include "ingest-service/otlp/otlp_records.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/idempotency_key.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "tests/ingest-service/otlp/otlp_test_requests.h"

namespace streammetrics::ingest::otlp {
namespace {

using ::testing::HasSubstr;
using testing::kNow;
using testing::kNowNanos;
using testing::kSecond;
using testing::RequestBuilder;

constexpr uint64_t kT = kNowNanos - 10 * kSecond;

TEST(OtlpRecordsTest, EventsAndBothKindsOfRefusal) {
  RequestBuilder b;
  b.Summary("rpc", kT);
  b.Gauge("ok", kT, 3);
  testing::AttributeMap many;
  for (int i = 0; i < 17; ++i) many[absl::StrCat("k", i)] = "v";
  b.Gauge("wide", kT, 3, many);
  CumulativeTracker tracker(10);
  MappedExport mapped = MapExport(b.request(), {}, &tracker);
  const PreparedExport p = PrepareExport(mapped, {}, {}, "alice", kNow);
  ASSERT_EQ(p.records.size(), 3u);
  ASSERT_EQ(p.rejections.size(), 2u);

  // The Summary, refused by the mapping: its point is the original.
  const kafka::Record& summary = p.records[0];
  EXPECT_EQ(summary.topic, "metrics-dead-letter");
  EXPECT_EQ(summary.key, "");
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(summary.value));
  EXPECT_EQ(dl.reason(), v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT);
  EXPECT_EQ(dl.original_type(), "opentelemetry.proto.metrics.v1.SummaryDataPoint");
  EXPECT_EQ(dl.caller(), "alice");
  EXPECT_EQ(dl.sequence(), kT);
  EXPECT_EQ(p.rejections[0].event_index(), 0u);

  // The valid gauge.
  const kafka::Record& ok = p.records[1];
  EXPECT_EQ(ok.topic, "metrics-events");
  absl::StatusOr<events::IdempotencyKey> key = events::DecodeHeaders(
      [&ok](absl::string_view name) { return events::LastHeader(ok.headers, name); });
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, mapped.events[0].key);

  // The gauge with 17 tags, refused by validation: the event is the original.
  ASSERT_TRUE(dl.ParseFromString(p.records[2].value));
  EXPECT_EQ(dl.reason(), v1::DEAD_LETTER_REASON_TOO_MANY_ENTRIES);
  EXPECT_THAT(dl.detail(), HasSubstr("metric \"wide\": event has 17 tags"));
  EXPECT_EQ(dl.original_type(), "");
  v1::MetricEvent original;
  ASSERT_TRUE(original.ParseFromString(dl.original()));
  EXPECT_EQ(original.metric_name(), "wide");
  EXPECT_NE(p.records[2].key, "");
  EXPECT_EQ(p.rejections[1].event_index(), 2u);

  const BatchResult r = Tally({absl::OkStatus(), absl::OkStatus(), absl::OkStatus()}, p.rejections);
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.rejected, 2u);
  size_t bytes = 0;
  for (const kafka::Record& rec : p.records) bytes += rec.ByteSize();
  EXPECT_EQ(p.bytes, bytes);
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
