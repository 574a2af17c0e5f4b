// query_bench: latency of QueryService as a client sees it, against a running aggregation service
// (bench/query_latency.sh starts the stack), next to a baseline measured in the same run: the
// same read done directly on the store (PostgreSQL through libpq, Redis through hiredis) in this
// process, so the table shows what gRPC and the service add.
//
// It writes one day of 1-minute windows (1,440, plus the 288 5-minute ones) of one series of its
// own through the real checkpoint path (PostgresAggregateStore), reads them back through the
// service, prints a markdown table on stdout (progress on stderr), and deletes what it wrote
// (unless --keep true, e.g. to look at query plans over them).
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/engine/window_numbers.h"
#include "aggregation-service/query/postgres_aggregate_reader.h"
#include "aggregation-service/query/query_requests.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "aggregation-service/store/postgres_aggregate_store.h"
#include "grpcpp/grpcpp.h"
#include "lib/events/series_key.h"
#include "streammetrics/v1/query.grpc.pb.h"

namespace {

using namespace streammetrics;
using namespace streammetrics::aggregation;

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

struct Latencies {
  std::string what;
  std::vector<double> micros;
  double Percentile(double q) const {
    std::vector<double> v = micros;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[static_cast<size_t>(q * (v.size() - 1))];
  }
};

// Runs `call` `n` times after `n / 10` warm-up calls; stops the program if a call fails.
Latencies Measure(const std::string& what, int n, const std::function<bool()>& call) {
  Latencies l{what, {}};
  for (int i = 0; i < n / 10; ++i) call();
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!call()) {
      fprintf(stderr, "\n%s failed\n", what.c_str());
      std::exit(1);
    }
    l.micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    if (i % 200 == 0) fprintf(stderr, "\r%-60s %6d / %d", what.c_str(), i, n);
  }
  fprintf(stderr, "\r%-60s %6d / %d\n", what.c_str(), n, n);
  return l;
}

v1::WindowAggregate Window(const std::string& service, v1::WindowSize size, absl::Time start,
                           int i) {
  v1::WindowAggregate w;
  w.mutable_series()->set_service_id(service);
  w.mutable_series()->set_metric_name("http.latency");
  (*w.mutable_series()->mutable_tags())["endpoint"] = "/checkout";
  (*w.mutable_series()->mutable_tags())["region"] = "eu-west-1";
  w.set_series_key(events::SeriesKey(service, "http.latency", w.series().tags()));
  w.set_window_size(size);
  *w.mutable_window_start() = TimeToProto(start);
  *w.mutable_window_end() = TimeToProto(start + WindowLength(size));
  WindowNumbers numbers(0.01, 2048);
  // 60 requests a minute (300 per 5 minutes), log-spread latencies.
  const int n = size == v1::WINDOW_SIZE_1M ? 60 : 300;
  for (int k = 0; k < n; ++k) numbers.Add(20 * std::exp(std::sin(i * 7.1 + k * 1.3)) + k % 7);
  SetNumbers(numbers, &w);
  w.set_is_final(true);
  w.set_revision(1);
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string target = Flag(argc, argv, "target", "127.0.0.1:50052");
  const int n = std::atoi(Flag(argc, argv, "calls", "2000").c_str());
  const std::string pg =
      Env("STREAMMETRICS_PG_URL", "postgresql://streammetrics@127.0.0.1:55432/streammetrics");
  const std::string service = absl::StrCat("bench-query-", getpid());
  const std::string group = "bench-query-" + std::to_string(getpid());

  // One day of windows, ending at the last whole 5 minutes.
  const absl::Time end = WindowStart(absl::Now(), absl::Minutes(5));
  const absl::Time start = end - absl::Hours(24);
  PostgresStoreConfig store_config;
  store_config.conninfo = pg;
  store_config.consumer_group = group;
  absl::StatusOr<std::unique_ptr<PostgresAggregateStore>> store =
      PostgresAggregateStore::Create(store_config);
  if (!store.ok()) {
    fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  // A partition number no real deployment has, so the claim fences nobody.
  const int32_t partition = 900000 + getpid() % 90000;
  absl::StatusOr<PartitionClaim> claim = (*store)->ClaimPartition(partition);
  if (!claim.ok()) {
    fprintf(stderr, "%s\n", claim.status().ToString().c_str());
    return 1;
  }
  PartitionCheckpoint cp;
  cp.partition = partition;
  cp.owner_epoch = claim->owner_epoch;
  cp.next_offset = 1;
  cp.delta.watermark = end;
  for (int m = 0; m < 24 * 60; ++m) {
    cp.delta.windows.push_back(Window(service, v1::WINDOW_SIZE_1M, start + absl::Minutes(m), m));
    if (m % 5 == 0) {
      cp.delta.windows.push_back(Window(service, v1::WINDOW_SIZE_5M, start + absl::Minutes(m), m));
    }
  }
  fprintf(stderr, "writing %zu windows of %s\n", cp.delta.windows.size(), service.c_str());
  absl::StatusOr<CheckpointResult> written = (*store)->Checkpoint({cp});
  if (!written.ok() || !written->fenced.empty()) {
    fprintf(stderr, "checkpoint failed\n");
    return 1;
  }
  const v1::WindowAggregate newest = cp.delta.windows[cp.delta.windows.size() - 1];

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    fprintf(stderr, "no QueryService at %s (is deploy/local/up.sh running?)\n", target.c_str());
    return 1;
  }
  auto stub = v1::QueryService::NewStub(channel);

  v1::GetLatestRequest latest;
  latest.set_service_id(service);
  latest.set_metric_name("http.latency");
  *latest.mutable_tags() = newest.series().tags();
  latest.set_window_size(v1::WINDOW_SIZE_1M);
  int cache_answers = 0;
  Latencies get_latest = Measure("GetLatest over gRPC", n, [&] {
    grpc::ClientContext context;
    v1::GetLatestResponse response;
    const bool ok = stub->GetLatest(&context, latest, &response).ok();
    cache_answers += response.source() == v1::DATA_SOURCE_CACHE;
    return ok;
  });

  v1::QueryAggregatesRequest day;
  day.set_service_id(service);
  day.set_metric_name("http.latency");
  day.set_window_size(v1::WINDOW_SIZE_1M);
  *day.mutable_start() = TimeToProto(start);
  *day.mutable_end() = TimeToProto(end);
  day.set_page_size(1000);
  Latencies query_day = Measure("QueryAggregates, one day (1,440 windows, 2 pages)", n / 4, [&] {
    v1::QueryAggregatesRequest r = day;
    size_t windows = 0;
    for (int page = 0; page < 10; ++page) {
      grpc::ClientContext context;
      v1::QueryAggregatesResponse response;
      if (!stub->QueryAggregates(&context, r, &response).ok()) return false;
      windows += response.windows_size();
      if (response.next_page_token().empty()) break;
      r.set_page_token(response.next_page_token());
    }
    return windows == 24 * 60;
  });

  // Baselines: the same reads in this process, straight to the stores.
  PostgresReaderConfig reader_config;
  reader_config.conninfo = pg;
  auto reader = PostgresAggregateReader::Create(reader_config);
  RedisCacheConfig cache_config;
  cache_config.pool.host = Env("STREAMMETRICS_REDIS_HOST", "127.0.0.1");
  cache_config.pool.port = std::atoi(Env("STREAMMETRICS_REDIS_PORT", "56379").c_str());
  auto cache = RedisAggregateCache::Create(cache_config);
  if (!reader.ok() || !cache.ok()) return 1;
  Latencies redis = Measure("baseline: Redis read (hiredis, in process)", n, [&] {
    auto got = (*cache)->GetLatest(newest.series_key(), v1::WINDOW_SIZE_1M, false);
    return got.ok() && got->has_value();
  });
  LatestQuery latest_query{newest.series_key(), v1::WINDOW_SIZE_1M, false};
  Latencies pg_latest = Measure("baseline: PostgreSQL newest window (libpq, in process)", n, [&] {
    auto got = (*reader)->LatestWindow(latest_query);
    return got.ok() && got->has_value();
  });
  Latencies pg_day =
      Measure("baseline: PostgreSQL one day, 2 pages (libpq, in process)", n / 4, [&] {
        WindowQuery q{.service_id = service,
                      .metric_name = "http.latency",
                      .tags = {},
                      .window_size = v1::WINDOW_SIZE_1M,
                      .start = start,
                      .end = end,
                      .after = std::nullopt,
                      .limit = 1001,
                      .include_sketch = false};
        size_t windows = 0;
        for (int page = 0; page < 10; ++page) {
          auto got = (*reader)->QueryWindows(q);
          if (!got.ok()) return false;
          const bool more = got->size() > 1000;
          windows += more ? 1000 : got->size();
          if (!more) break;
          const v1::WindowAggregate& last = (*got)[999];
          q.after = WindowCursor{TimeFromProto(last.window_start()), last.series_key()};
        }
        return windows == 24 * 60;
      });

  auto row = [](const Latencies& service_side, const Latencies& baseline) {
    printf("| %s | %zu | %.0f | %.0f | %s | %.0f | %.0f |\n", service_side.what.c_str(),
           service_side.micros.size(), service_side.Percentile(0.5), service_side.Percentile(0.99),
           baseline.what.substr(10).c_str(), baseline.Percentile(0.5), baseline.Percentile(0.99));
  };
  printf("\nQueryService latency, one series, one day of 1-minute windows (%s, %d calls)\n\n",
         target.c_str(), n);
  printf("| call | n | p50 µs | p99 µs | baseline in the same run | p50 µs | p99 µs |\n");
  printf("|---|---|---|---|---|---|---|\n");
  row(get_latest, redis);
  row(query_day, pg_day);
  printf(
      "\nGetLatest answers from the cache: %d of %d (the first read fills it from "
      "PostgreSQL). The cache-miss path reads PostgreSQL: p50 %.0f µs, p99 %.0f µs in process.\n",
      cache_answers, n + n / 10, pg_latest.Percentile(0.5), pg_latest.Percentile(0.99));

  if (Flag(argc, argv, "keep", "false") == "true") {
    fprintf(stderr, "kept the windows of %s (--keep true)\n", service.c_str());
    return 0;
  }
  // Clean up: the windows, the series, the claim; the cache entries expire (24 h TTL).
  PGconn* conn = PQconnectdb(pg.c_str());
  for (const std::string& sql :
       {absl::StrCat("DELETE FROM metrics.metric_aggregates WHERE service_id = '", service, "'"),
        absl::StrCat("DELETE FROM metrics.series WHERE service_id = '", service, "'"),
        absl::StrCat("DELETE FROM metrics.consumer_offsets WHERE consumer_group = '", group,
                     "'")}) {
    PQclear(PQexec(conn, sql.c_str()));
  }
  PQfinish(conn);
  return 0;
}
