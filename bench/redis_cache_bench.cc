// redis_cache_bench: how many windows per second one aggregation instance can move into Redis,
// with Google Benchmark, against the local stack's Redis (STREAMMETRICS_REDIS_HOST/_PORT).
//   BM_PutLatest/N     RedisAggregateCache::PutLatest of N windows (what the CacheWriter sends
//                      after each checkpoint): pipelined EVALSHA of the compare-and-set script,
//                      two keys per window (latest, and final for final windows)
//   BM_PlainSet/N      the baseline, in the same run: N pipelined SETs of the same serialized
//                      windows through bare hiredis, no script, one key each
// items_per_second is windows per second. Keys live under a prefix of this process and are
// deleted at the end.
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "benchmark/benchmark.h"

namespace streammetrics::aggregation {
namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

const std::string& Prefix() {
  static const std::string prefix = absl::StrCat("bench:", getpid(), ":");
  return prefix;
}

// `n` 1-minute windows of distinct series (with tags, as the service stores them), at revision
// `revision` so each write is newer than the last and the script stores it.
std::vector<v1::WindowAggregate> Windows(int n, uint64_t revision) {
  std::vector<v1::WindowAggregate> windows(n);
  const absl::Time start = WindowStart(absl::Now(), absl::Minutes(1));
  for (int i = 0; i < n; ++i) {
    v1::WindowAggregate& w = windows[i];
    w.mutable_series()->set_service_id("bench-svc");
    w.mutable_series()->set_metric_name("http.request.duration");
    (*w.mutable_series()->mutable_tags())["endpoint"] = absl::StrCat("/e/", i % 100);
    (*w.mutable_series()->mutable_tags())["region"] = absl::StrCat("r", i % 4);
    w.set_series_key(absl::StrCat("bench-svc|http.request.duration|", i));
    w.set_window_size(v1::WINDOW_SIZE_1M);
    *w.mutable_window_start() = TimeToProto(start);
    *w.mutable_window_end() = TimeToProto(start + absl::Minutes(1));
    w.set_count(150);
    w.set_sum(8250.5);
    w.set_avg(55.0);
    w.set_min(1.5);
    w.set_max(950.25);
    w.set_p50(48.0);
    w.set_p95(180.0);
    w.set_p99(420.0);
    w.set_relative_accuracy(0.01);
    w.set_is_final(i % 2 == 0);
    w.set_revision(revision);
  }
  return windows;
}

std::unique_ptr<RedisAggregateCache> Cache() {
  RedisCacheConfig config;
  config.pool.host = Env("STREAMMETRICS_REDIS_HOST", "127.0.0.1");
  config.pool.port = std::atoi(Env("STREAMMETRICS_REDIS_PORT", "56379").c_str());
  config.pool.password = Env("STREAMMETRICS_REDIS_PASSWORD", "");
  config.key_prefix = Prefix();
  absl::StatusOr<std::unique_ptr<RedisAggregateCache>> cache = RedisAggregateCache::Create(config);
  return cache.ok() && (*cache)->available() ? *std::move(cache) : nullptr;
}

void BM_PutLatest(benchmark::State& state) {
  std::unique_ptr<RedisAggregateCache> cache = Cache();
  if (cache == nullptr) {
    state.SkipWithError("Redis is not reachable (deploy/local/up.sh --infra-only)");
    return;
  }
  const int n = static_cast<int>(state.range(0));
  uint64_t revision = 1;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::WindowAggregate> windows = Windows(n, revision++);
    state.ResumeTiming();
    if (absl::Status s = cache->PutLatest(windows); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  (void)cache->Clear();
}
BENCHMARK(BM_PutLatest)->Arg(100)->Arg(1000)->Arg(5000)->UseRealTime();

void BM_PlainSet(benchmark::State& state) {
  const std::string host = Env("STREAMMETRICS_REDIS_HOST", "127.0.0.1");
  const int port = std::atoi(Env("STREAMMETRICS_REDIS_PORT", "56379").c_str());
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnect(host.c_str(), port),
                                                           redisFree);
  const std::string password = Env("STREAMMETRICS_REDIS_PASSWORD", "");
  if (c == nullptr || c->err != 0) {
    state.SkipWithError("Redis is not reachable (deploy/local/up.sh --infra-only)");
    return;
  }
  if (!password.empty()) {
    freeReplyObject(redisCommand(c.get(), "AUTH %b", password.data(), password.size()));
  }
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> keys, values;
  for (const v1::WindowAggregate& w : Windows(n, 1)) {
    keys.push_back(absl::StrCat(Prefix(), "plain:", w.series_key()));
    values.push_back(w.SerializeAsString());
  }
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) {
      redisAppendCommand(c.get(), "SET %b %b", keys[i].data(), keys[i].size(), values[i].data(),
                         values[i].size());
    }
    for (int i = 0; i < n; ++i) {
      void* reply = nullptr;
      if (redisGetReply(c.get(), &reply) != REDIS_OK) {
        state.SkipWithError("Redis failed mid-pipeline");
        return;
      }
      freeReplyObject(reply);
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  for (const std::string& k : keys) {
    redisAppendCommand(c.get(), "UNLINK %b", k.data(), k.size());
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(c.get(), &reply) == REDIS_OK) freeReplyObject(reply);
  }
}
BENCHMARK(BM_PlainSet)->Arg(100)->Arg(1000)->Arg(5000)->UseRealTime();

}  // namespace
}  // namespace streammetrics::aggregation

BENCHMARK_MAIN();
