// Windows and checkpoints for AggregateStore tests (the fake's unit test and PostgreSQL's
// integration test), built the way the window engine builds them: a real DDSketch, the canonical
// series key, numbers consistent with the values.
#ifndef STREAMMETRICS_TESTS_AGGREGATION_SERVICE_STORE_STORE_TEST_WINDOWS_H_
#define STREAMMETRICS_TESTS_AGGREGATION_SERVICE_STORE_STORE_TEST_WINDOWS_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/store/aggregate_store.h"
#include "aggregation-service/store/store_rules.h"
#include "lib/events/series_key.h"
#include "lib/sketch/ddsketch.h"

namespace streammetrics::aggregation::testing {

// Whole 5 minutes (1.8e9 s is divisible by 300), so the windows below are aligned.
inline const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

struct WindowSpec {
  std::string service = "svc";
  std::string metric = "api.latency";
  std::map<std::string, std::string> tags = {};
  v1::WindowSize size = v1::WINDOW_SIZE_1M;
  absl::Time start = kT0;
  std::vector<double> values = {1.5, 20, 245};
  bool is_final = false;
  uint64_t revision = 1;
};

inline v1::WindowAggregate MakeWindow(const WindowSpec& spec) {
  v1::WindowAggregate w;
  w.mutable_series()->set_service_id(spec.service);
  w.mutable_series()->set_metric_name(spec.metric);
  for (const auto& [k, v] : spec.tags) (*w.mutable_series()->mutable_tags())[k] = v;
  w.set_series_key(events::SeriesKey(spec.service, spec.metric, w.series().tags()));
  w.set_window_size(spec.size);
  *w.mutable_window_start() = TimeToProto(spec.start);
  *w.mutable_window_end() = TimeToProto(spec.start + WindowLength(spec.size));
  sketch::DDSketch sketch;
  for (double v : spec.values) sketch.Add(v);
  w.set_count(spec.values.size());
  w.set_sum(std::accumulate(spec.values.begin(), spec.values.end(), 0.0));
  w.set_avg(w.sum() / static_cast<double>(spec.values.size()));
  w.set_min(*std::min_element(spec.values.begin(), spec.values.end()));
  w.set_max(*std::max_element(spec.values.begin(), spec.values.end()));
  w.set_p50(*sketch.Quantile(0.5));
  w.set_p95(*sketch.Quantile(0.95));
  w.set_p99(*sketch.Quantile(0.99));
  w.set_relative_accuracy(sketch.relative_accuracy());
  *w.mutable_sketch() = sketch.ToProto();
  w.set_is_final(spec.is_final);
  w.set_revision(spec.revision);
  return w;
}

// A window of `service`'s default series, for cache tests: what the cache keys on (series, size,
// start) and orders by (start, revision), final or not.
inline v1::WindowAggregate CacheWindow(const std::string& service, absl::Time start,
                                       uint64_t revision, bool is_final = false,
                                       v1::WindowSize size = v1::WINDOW_SIZE_1M) {
  return MakeWindow(WindowSpec{.service = service,
                               .size = size,
                               .start = start,
                               .is_final = is_final,
                               .revision = revision});
}

// `w` as a cache holds it: without its sketch.
inline v1::WindowAggregate WithoutSketch(v1::WindowAggregate w) {
  w.clear_sketch();
  return w;
}

inline OutboxRecord Record(const std::string& key, const std::string& value,
                           const std::string& topic = "metrics-aggregated-1m") {
  OutboxRecord r;
  r.topic = topic;
  r.key = key;
  r.value = value;
  return r;
}

inline DedupChunk Chunk(absl::Time window_start, const std::string& keys) {
  return DedupChunk{.window_start = window_start, .keys = keys};
}

// A checkpoint of `partition` at `epoch` with nothing in it but the offset and watermark.
inline PartitionCheckpoint Progress(int32_t partition, int64_t epoch, int64_t next_offset,
                                    absl::Time watermark = kT0) {
  PartitionCheckpoint cp;
  cp.partition = partition;
  cp.owner_epoch = epoch;
  cp.next_offset = next_offset;
  cp.delta.watermark = watermark;
  return cp;
}

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_AGGREGATION_SERVICE_STORE_STORE_TEST_WINDOWS_H_
