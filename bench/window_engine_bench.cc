// window_engine_bench: PartitionWindows costs on the aggregation hot path, with Google Benchmark.
//   BM_Add/<series>    one event through Add, on a stream like a partition's: batches of 100
//                      events of one client (ascending indexes), event time moving forward at
//                      20,000 events per second with up to 5 s of disorder, log-normal values,
//                      Advance every 1,000 events and TakeDelta every 1,000,000 (a checkpoint a
//                      second at the target rate), so windows open, close and leave memory as in
//                      production; those calls are part of the measured cost
//   BM_AddResent       the same with every batch sent twice (half the events are duplicates)
//   BM_TakeDelta/<n>   one checkpoint's delta with n open series, each changed since the last
//                      (rows for their 1m and 5m windows); items = series
// items_per_second is the figure to compare with the service's target (well over 1M events/s
// per core).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aggregation-service/engine/partition_windows.h"
#include "benchmark/benchmark.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/series_key.h"

namespace streammetrics::aggregation {
namespace {

constexpr int kPool = 1 << 16;
constexpr int kBatch = 100;
constexpr int kClients = 8;
constexpr int64_t kEventsPerSecond = 20000;
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Events prepared once, so the loop measures the engine rather than protobuf construction; the
// loop only rewrites each event's timestamp.
struct Pool {
  std::vector<std::string> series_keys;
  std::vector<v1::MetricEvent> events;
  std::vector<int64_t> disorder_nanos;
};

Pool MakePool(int series) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(4.0, 1.0);
  std::uniform_int_distribution<int> pick(0, series - 1);
  std::uniform_int_distribution<int64_t> disorder(0, 5'000'000'000);
  Pool pool;
  for (int i = 0; i < kPool; ++i) {
    const int s = pick(rng);
    v1::MetricEvent event;
    event.set_service_id("checkout-service");
    event.set_instance_id("pod-1");
    event.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
    event.set_metric_name(absl::StrCat("http.request.duration.", s % 10));
    (*event.mutable_tags())["endpoint"] = absl::StrCat("/api/v1/resource/", s);
    (*event.mutable_tags())["method"] = "GET";
    event.set_value(latency(rng));
    pool.series_keys.push_back(events::SeriesKey(event));
    pool.events.push_back(std::move(event));
    pool.disorder_nanos.push_back(disorder(rng));
  }
  return pool;
}

// Feeds the engine the stream described at the top; `copies` sends each batch that many times.
void RunStream(benchmark::State& state, int series, int copies) {
  Pool pool = MakePool(series);
  std::vector<events::IdempotencyKey> keys(kClients);
  for (int c = 0; c < kClients; ++c) keys[c].client_id = absl::StrCat("loadgen-", c, "-3f9a2c");
  PartitionWindows engine;
  int64_t sent = 0;      // events handed to Add, copies included
  int64_t distinct = 0;  // distinct events: drives event time and keys
  int64_t counted = 0, duplicates = 0, late = 0;
  for (auto _ : state) {
    const int64_t batch = sent / (kBatch * copies);
    const int64_t index = sent % kBatch;
    const int64_t event_number = batch * kBatch + index;
    const size_t slot = static_cast<size_t>(event_number) & (kPool - 1);
    v1::MetricEvent& event = pool.events[slot];
    const int64_t nanos = event_number * (1'000'000'000 / kEventsPerSecond) -
                          pool.disorder_nanos[slot] + 10'000'000'000;
    event.mutable_timestamp()->set_seconds(absl::ToUnixSeconds(kStart) + nanos / 1'000'000'000);
    event.mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
    events::IdempotencyKey& key = keys[batch % kClients];
    key.sequence = static_cast<uint64_t>(batch / kClients) + 1;
    key.event_index = static_cast<uint32_t>(index);
    switch (engine.Add(pool.series_keys[slot], event, key)) {
      case AddOutcome::kCounted:
        ++counted;
        break;
      case AddOutcome::kDuplicate:
        ++duplicates;
        break;
      case AddOutcome::kLate:
      case AddOutcome::kOverflow:  // only distributions overflow; this stream has none
        ++late;
        break;
    }
    ++sent;
    distinct = batch * kBatch + index + 1;
    if (sent % 1000 == 0) {
      engine.Advance(kStart + absl::Nanoseconds(distinct * (1'000'000'000 / kEventsPerSecond)) +
                         absl::Seconds(10),
                     false);
    }
    if (sent % 1'000'000 == 0) benchmark::DoNotOptimize(engine.TakeDelta());
  }
  state.SetItemsProcessed(state.iterations());
  const double n = static_cast<double>(sent > 0 ? sent : 1);
  state.counters["counted_pct"] = 100.0 * static_cast<double>(counted) / n;
  state.counters["duplicate_pct"] = 100.0 * static_cast<double>(duplicates) / n;
  state.counters["late_pct"] = 100.0 * static_cast<double>(late) / n;
  state.counters["open_windows"] = static_cast<double>(engine.open_windows());
}

void BM_Add(benchmark::State& state) { RunStream(state, static_cast<int>(state.range(0)), 1); }
BENCHMARK(BM_Add)->Arg(1)->Arg(100)->Arg(10000);

void BM_AddResent(benchmark::State& state) { RunStream(state, 100, 2); }
BENCHMARK(BM_AddResent);

void BM_TakeDelta(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  std::vector<std::string> series_keys;
  std::vector<v1::MetricEvent> events;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(4.0, 1.0);
  for (int s = 0; s < series; ++s) {
    v1::MetricEvent event;
    event.set_service_id("checkout-service");
    event.set_metric_name("http.request.duration");
    (*event.mutable_tags())["endpoint"] = absl::StrCat("/api/v1/resource/", s);
    series_keys.push_back(events::SeriesKey(event));
    events.push_back(std::move(event));
  }
  PartitionWindows engine;
  events::IdempotencyKey key{"loadgen-0", 0, 0};
  int64_t rows = 0;
  // Every round adds 10 values to each series, spread over the seconds of one minute, so the
  // sketches hold realistic spans; the minute stays open (no Advance), as between checkpoints.
  for (auto _ : state) {
    state.PauseTiming();
    ++key.sequence;
    for (int s = 0; s < series; ++s) {
      for (int v = 0; v < 10; ++v) {
        v1::MetricEvent& event = events[s];
        event.mutable_timestamp()->set_seconds(absl::ToUnixSeconds(kStart) + (v * 6) % 60);
        event.set_value(latency(rng));
        key.event_index = static_cast<uint32_t>(s * 10 + v);
        engine.Add(series_keys[s], event, key);
      }
    }
    state.ResumeTiming();
    PartitionDelta delta = engine.TakeDelta();
    rows += static_cast<int64_t>(delta.windows.size());
    benchmark::DoNotOptimize(delta);
  }
  state.SetItemsProcessed(state.iterations() * series);
  state.counters["rows_per_delta"] =
      static_cast<double>(rows) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TakeDelta)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace streammetrics::aggregation
