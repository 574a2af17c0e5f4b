// A fixture for Aggregator unit tests: the aggregator wired to FakeEventSource, FakeAggregateStore,
// FakeRecordSink and a FakeClock, with builders of event records.
#ifndef STREAMMETRICS_TESTS_AGGREGATION_SERVICE_CONSUME_AGGREGATOR_TEST_UTIL_H_
#define STREAMMETRICS_TESTS_AGGREGATION_SERVICE_CONSUME_AGGREGATOR_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "aggregation-service/consume/aggregator.h"
#include "aggregation-service/consume/fake_event_source.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/store/fake_aggregate_store.h"
#include "gtest/gtest.h"
#include "lib/common/clock.h"
#include "lib/events/series_key.h"
#include "lib/kafka/fake_record_sink.h"

namespace streammetrics::aggregation::testing {

// A whole 5-minute boundary, so minute m of the tests is window [kT0 + m min, kT0 + (m+1) min).
inline const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

inline v1::MetricEvent Event(absl::Time at, double value, const std::string& endpoint = "/a") {
  v1::MetricEvent e;
  e.set_event_id("ev");
  *e.mutable_timestamp() = TimeToProto(at);
  e.set_service_id("payment-service");
  e.set_instance_id("pod-1");
  e.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
  e.set_metric_name("api.request.duration");
  e.set_value(value);
  (*e.mutable_tags())["endpoint"] = endpoint;
  return e;
}

inline FakeEventSource::Record EventRecord(const v1::MetricEvent& e, uint64_t sequence,
                                           uint32_t index, const std::string& client = "c1") {
  FakeEventSource::Record r;
  r.key = events::SeriesKey(e);
  r.value = e.SerializeAsString();
  r.headers = events::EncodeHeaders({client, sequence, index}, events::kContentTypeMetricEvent);
  return r;
}

class AggregatorFixture : public ::testing::Test {
 protected:
  AggregatorFixture() : clock_(kT0) {}
  ~AggregatorFixture() override { (void)sink_.Flush(absl::Seconds(10)); }

  // A new aggregator (the previous one, if any, disappears as in a crash: no checkpoint) and a
  // source reading the same log.
  void StartInstance() {
    AggregatorDeps deps;
    deps.store = &store_;
    deps.publisher = &sink_;
    deps.clock = &clock_;
    deps.metrics = &metrics_;
    (void)sink_.Flush(absl::Seconds(10));
    source_.reset();
    aggregator_ = std::make_unique<Aggregator>(options_, deps);
    auto source = std::make_unique<FakeEventSource>(aggregator_.get());
    if (log_ != nullptr) {
      for (const auto& [p, records] : *log_) {
        for (const auto& r : records) source->Append(p, r);
      }
    }
    source_ = std::move(source);
  }

  // Appends to the shared log (seen by every instance started afterwards, and the current one).
  void Append(int32_t partition, const FakeEventSource::Record& r) {
    if (log_ == nullptr)
      log_ = std::make_unique<std::map<int32_t, std::vector<FakeEventSource::Record>>>();
    (*log_)[partition].push_back(r);
    if (source_ != nullptr) source_->Append(partition, r);
  }

  // Polls and ticks until nothing is left to read (or 1,000 rounds).
  void Pump(size_t max_records = 100000) {
    for (int i = 0; i < 1000; ++i) {
      size_t seen = 0;
      ASSERT_TRUE(source_
                      ->Poll(absl::ZeroDuration(), max_records,
                             [&](absl::Span<const SourceRecord> r) {
                               seen += r.size();
                               aggregator_->Consume(r);
                             })
                      .ok());
      ASSERT_TRUE(aggregator_->Tick([&](int32_t p) { return source_->HighWatermark(p); }).ok());
      if (seen == 0) return;
    }
  }

  // Moves time far past every window and lets idle partitions close them, checkpoints, and
  // waits for the publications.
  void FinishWindows() {
    clock_.Advance(absl::Minutes(10));
    Pump();
    ASSERT_TRUE(aggregator_->CheckpointNow().ok());
    ASSERT_TRUE(sink_.Flush(absl::Seconds(10)).ok());
  }

  std::optional<v1::WindowAggregate> Stored(const v1::MetricEvent& e, v1::WindowSize size,
                                            absl::Time start) {
    auto w = store_.Window(events::SeriesKey(e), size, start);
    if (!w.has_value()) return std::nullopt;
    return w->window;
  }

  AggregatorOptions options_;
  FakeClock clock_;
  FakeAggregateStore store_;
  kafka::FakeRecordSink sink_{/*auto_complete=*/true};
  AggregationMetrics metrics_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<FakeEventSource> source_;
  std::unique_ptr<std::map<int32_t, std::vector<FakeEventSource::Record>>> log_;
};

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_AGGREGATION_SERVICE_CONSUME_AGGREGATOR_TEST_UTIL_H_
