// Guards the public contract (docs/contract.md §4) against accidental renumbering or renaming:
// generated clients in other languages depend on these numbers and names.
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "streammetrics/v1/ingest.grpc.pb.h"
#include "streammetrics/v1/metric_event.pb.h"
#include "streammetrics/v1/query.grpc.pb.h"

namespace streammetrics::v1 {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::MethodDescriptor;

TEST(ContractTest, MetricTypesAreTheSeedsTenPlusUnspecified) {
  const auto* e = MetricType_descriptor();
  const std::vector<std::string> seed = {"HTTP_REQUEST",
                                         "DATABASE_QUERY",
                                         "CACHE_HIT",
                                         "CACHE_MISS",
                                         "EXTERNAL_API_CALL",
                                         "MESSAGE_QUEUE_PUBLISH",
                                         "MESSAGE_QUEUE_CONSUME",
                                         "CUSTOM_COUNTER",
                                         "CUSTOM_GAUGE",
                                         "CUSTOM_HISTOGRAM"};
  ASSERT_EQ(e->value_count(), 11);
  EXPECT_EQ(e->FindValueByNumber(0)->name(), "METRIC_TYPE_UNSPECIFIED");
  for (size_t i = 0; i < seed.size(); ++i) {
    EXPECT_EQ(e->FindValueByNumber(static_cast<int>(i + 1))->name(), "METRIC_TYPE_" + seed[i]);
  }
}

TEST(ContractTest, MetricEventHasTheSeedsFields) {
  const auto* d = MetricEvent::descriptor();
  const std::vector<std::string> fields = {
      "event_id", "timestamp", "service_id", "instance_id", "metric_type", "metric_name", "value",
      "unit", "tags", "metadata",
      // Added after the seed, for pre-aggregated (OpenTelemetry) histograms.
      "distribution"};
  ASSERT_EQ(d->field_count(), static_cast<int>(fields.size()));
  for (size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(d->FindFieldByNumber(static_cast<int>(i + 1))->name(), fields[i]);
  }
  EXPECT_EQ(d->FindFieldByName("timestamp")->message_type()->full_name(),
            "google.protobuf.Timestamp");
  EXPECT_TRUE(d->FindFieldByName("tags")->is_map());
}

struct Rpc {
  std::string service;
  std::string method;
  bool client_streaming;
  bool server_streaming;
};

TEST(ContractTest, ServicesExposeEveryRpcWithItsStreamingShape) {
  const std::vector<Rpc> rpcs = {
      {"streammetrics.v1.IngestService", "StreamMetrics", true, false},
      {"streammetrics.v1.IngestService", "IngestStream", true, true},
      {"streammetrics.v1.QueryService", "QueryAggregates", false, false},
      {"streammetrics.v1.QueryService", "GetLatest", false, false},
      {"streammetrics.v1.QueryService", "ListSeries", false, false},
      {"streammetrics.v1.QueryService", "Summarize", false, false},
      {"streammetrics.v1.QueryService", "WatchAggregates", false, true},
  };
  // The generated pool builds a file's descriptors on first use: touch one message of each file.
  (void)MetricBatch::descriptor();
  (void)QueryAggregatesRequest::descriptor();
  for (const Rpc& rpc : rpcs) {
    const MethodDescriptor* m =
        DescriptorPool::generated_pool()->FindMethodByName(rpc.service + "." + rpc.method);
    ASSERT_NE(m, nullptr) << rpc.service << "." << rpc.method;
    EXPECT_EQ(m->client_streaming(), rpc.client_streaming) << rpc.method;
    EXPECT_EQ(m->server_streaming(), rpc.server_streaming) << rpc.method;
  }
}

TEST(ContractTest, BatchCarriesTheIdempotencyKey) {
  const auto* d = MetricBatch::descriptor();
  EXPECT_EQ(d->FindFieldByName("client_id")->number(), 1);
  EXPECT_EQ(d->FindFieldByName("sequence")->type(), google::protobuf::FieldDescriptor::TYPE_UINT64);
  EXPECT_TRUE(d->FindFieldByName("events")->is_repeated());
}

TEST(ContractTest, WindowAggregateRoundTripsWithSketch) {
  WindowAggregate w;
  w.mutable_series()->set_service_id("payment-service");
  (*w.mutable_series()->mutable_tags())["method"] = "POST";
  w.set_window_size(WINDOW_SIZE_5M);
  w.set_count(3);
  w.set_is_final(true);
  w.mutable_sketch()->mutable_positive()->set_offset(-7);
  w.mutable_sketch()->mutable_positive()->add_counts(2);
  WindowAggregate back;
  ASSERT_TRUE(back.ParseFromString(w.SerializeAsString()));
  EXPECT_EQ(back.series().tags().at("method"), "POST");
  EXPECT_EQ(back.sketch().positive().offset(), -7);
  EXPECT_TRUE(back.is_final());
}

TEST(ContractTest, DeadLetterReasonsCoverLateAndUndecodable) {
  EXPECT_TRUE(DeadLetterReason_IsValid(DEAD_LETTER_REASON_LATE_EVENT));
  EXPECT_TRUE(DeadLetterReason_IsValid(DEAD_LETTER_REASON_UNDECODABLE));
  EXPECT_EQ(DEAD_LETTER_REASON_MISSING_IDEMPOTENCY_KEY, 14);
  EXPECT_EQ(DEAD_LETTER_REASON_KEY_MISMATCH, 15);
  EXPECT_EQ(DEAD_LETTER_REASON_VALUE_OUT_OF_RANGE, 16);
  EXPECT_EQ(DEAD_LETTER_REASON_INVALID_DISTRIBUTION, 17);
  EXPECT_EQ(DEAD_LETTER_REASON_UNSUPPORTED_POINT, 18);
  EXPECT_EQ(DEAD_LETTER_REASON_MISSING_SERVICE_NAME, 19);
  EXPECT_EQ(DeadLetterReason_Name(DEAD_LETTER_REASON_NON_FINITE_VALUE),
            "DEAD_LETTER_REASON_NON_FINITE_VALUE");
}

}  // namespace
}  // namespace streammetrics::v1
