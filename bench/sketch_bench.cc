// sketch_bench: DDSketch costs on the aggregation hot paths, with Google Benchmark.
//   BM_Add            one value into a 1 % sketch (every event pays this once per window size)
//   BM_Merge          a 1-minute sketch into a 5-minute one (once per 1-minute sketch)
//   BM_Quantile       one percentile of a 1-minute sketch (p50/p95/p99 per stored window)
//   BM_ProtoRoundTrip ToProto + FromProto (publish and read back a window's sketch)
// "1-minute-sized" means 10,000 log-normal latencies: about 170 events per second.
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/sketch/ddsketch.h"

namespace streammetrics::sketch {
namespace {

constexpr int kMinuteEvents = 10000;

// Latency-like values (median ~55, long tail); fixed seed so runs compare.
std::vector<double> Latencies(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(4.0, 1.0);
  std::vector<double> values(n);
  for (double& v : values) v = dist(rng);
  return values;
}

DDSketch MinuteSketch(uint64_t seed) {
  DDSketch sketch;
  for (double v : Latencies(kMinuteEvents, seed)) sketch.Add(v);
  return sketch;
}

void BM_Add(benchmark::State& state) {
  // Cycling through a fixed batch keeps value generation out of the measurement.
  const std::vector<double> values = Latencies(1 << 16, 1);
  DDSketch sketch;
  size_t i = 0;
  for (auto _ : state) {
    sketch.Add(values[i]);
    i = (i + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(sketch.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Add);

void BM_Merge(benchmark::State& state) {
  // The target accumulates like a 5-minute window does; its span settles after the first merge,
  // so later iterations measure the steady state.
  DDSketch five_minutes = MinuteSketch(2);
  const DDSketch minute = MinuteSketch(3);
  for (auto _ : state) {
    benchmark::DoNotOptimize(five_minutes.Merge(minute));
  }
  state.counters["buckets"] = minute.ToProto().positive().counts_size();
}
BENCHMARK(BM_Merge);

void BM_Quantile(benchmark::State& state) {
  const DDSketch minute = MinuteSketch(4);
  const double q = static_cast<double>(state.range(0)) / 100;
  for (auto _ : state) {
    benchmark::DoNotOptimize(minute.Quantile(q));
  }
}
BENCHMARK(BM_Quantile)->Arg(50)->Arg(95)->Arg(99);

void BM_ProtoRoundTrip(benchmark::State& state) {
  const DDSketch minute = MinuteSketch(5);
  for (auto _ : state) {
    absl::StatusOr<DDSketch> read = DDSketch::FromProto(minute.ToProto());
    benchmark::DoNotOptimize(read);
  }
  state.counters["bytes"] = static_cast<double>(minute.ToProto().ByteSizeLong());
}
BENCHMARK(BM_ProtoRoundTrip);

}  // namespace
}  // namespace streammetrics::sketch
