// RedisAggregateCache against the local Redis: round trips (binary series keys, no sketch), the
// forward-only rule (across calls and within one pipelined batch), latest vs final keys, the TTL,
// a pipelined batch of 10,000 windows, DataLoss on bad bytes, concurrent
// callers beyond the pool, refused configurations, and the AggregateCache contract. Keys carry a
// prefix unique to the run; each test deletes its keys. The tests that stop, restart or flush the
// shared Redis (breaker, NOSCRIPT fallback): redis_aggregate_cache_fault_test.cc.
#include "aggregation-service/query/redis_aggregate_cache.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/query/aggregate_cache_contract.h"
#include "tests/integration/redis_cache_fixture.h"
#include "tests/support/proto_matchers.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::CacheWindow;
using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::MakeWindow;
using ::streammetrics::aggregation::testing::RedisAggregateCacheTest;
using ::streammetrics::aggregation::testing::Reply;
using ::streammetrics::aggregation::testing::WindowSpec;
using ::streammetrics::aggregation::testing::WithoutSketch;
using ::streammetrics::testing::EqualsProto;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST_F(RedisAggregateCacheTest, RoundTripStoresTheWindowWithoutItsSketch) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(cache->available());
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 3);
  ASSERT_TRUE(w.has_sketch());
  ASSERT_TRUE(cache->PutLatest({w}).ok());

  absl::StatusOr<std::optional<v1::WindowAggregate>> got =
      cache->GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, Optional(EqualsProto(WithoutSketch(w))));

  Reply fields = Command({"HMGET", Key("latest", "1m", w.series_key()), "start", "rev"});
  ASSERT_EQ(fields->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(std::string(fields->element[0]->str), absl::StrCat(absl::ToUnixMicros(kT0)));
  EXPECT_EQ(std::string(fields->element[1]->str), "3");

  EXPECT_EQ(Get(*cache, w.series_key(), v1::WINDOW_SIZE_5M, false), std::nullopt);
  EXPECT_EQ(Get(*cache, w.series_key(), v1::WINDOW_SIZE_1M, true), std::nullopt);
  EXPECT_EQ(Get(*cache, "no such series", v1::WINDOW_SIZE_1M, false), std::nullopt);
}

TEST_F(RedisAggregateCacheTest, SeriesKeysAreBinarySafe) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  v1::WindowAggregate w = CacheWindow("svc", kT0, 1);
  w.set_series_key(std::string("a\0b %s %b *\xc3\xa9\n", 14));
  ASSERT_TRUE(cache->PutLatest({w}).ok());
  EXPECT_THAT(Get(*cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(w))));
  Reply exists = Command({"EXISTS", Key("latest", "1m", w.series_key())});
  EXPECT_EQ(exists->integer, 1);
}

TEST_F(RedisAggregateCacheTest, EntriesOnlyMoveForward) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate current = CacheWindow("svc", kT0, 2);
  const std::string& key = current.series_key();
  ASSERT_TRUE(cache->PutLatest({current}).ok());

  // An older window written after a newer one, a lower revision of the same window, and the same
  // revision again (with other numbers): none replaces it.
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0 - absl::Minutes(1), 9)}).ok());
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0, 1)}).ok());
  v1::WindowAggregate same_revision = CacheWindow("svc", kT0, 2);
  same_revision.set_count(12345);
  ASSERT_TRUE(cache->PutLatest({same_revision}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(current))));

  // Within one pipelined batch too: the newer one wins whatever the order.
  const v1::WindowAggregate higher = CacheWindow("svc", kT0, 5);
  ASSERT_TRUE(cache->PutLatest({higher, CacheWindow("svc", kT0, 4)}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(higher))));

  const v1::WindowAggregate later = CacheWindow("svc", kT0 + absl::Minutes(1), 1);
  ASSERT_TRUE(cache->PutLatest({later}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(later))));
}

TEST_F(RedisAggregateCacheTest, RevisionsAboveTwoToThe53AreComparedExactly) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  // 2^53 + 1 and 2^53 are the same Lua number; the script compares the digits.
  const uint64_t big = (uint64_t{1} << 53) + 1;
  const v1::WindowAggregate higher = CacheWindow("svc", kT0, big);
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0, big - 1)}).ok());
  ASSERT_TRUE(cache->PutLatest({higher}).ok());
  EXPECT_THAT(Get(*cache, higher.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(higher))));
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0, UINT64_MAX)}).ok());
  const std::optional<v1::WindowAggregate> top =
      Get(*cache, higher.series_key(), v1::WINDOW_SIZE_1M, false);
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->revision(), UINT64_MAX);
}

TEST_F(RedisAggregateCacheTest, FinalAndLatestKeysAreSeparate) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate final_window = CacheWindow("svc", kT0, 7, /*is_final=*/true);
  const v1::WindowAggregate open_window = CacheWindow("svc", kT0 + absl::Minutes(1), 1);
  const v1::WindowAggregate five = CacheWindow("svc", kT0, 2, false, v1::WINDOW_SIZE_5M);
  const std::string& key = final_window.series_key();
  ASSERT_TRUE(cache->PutLatest({final_window, open_window, five}).ok());

  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(open_window))));
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, true),
              Optional(EqualsProto(WithoutSketch(final_window))));
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_5M, false),
              Optional(EqualsProto(WithoutSketch(five))));
  EXPECT_EQ(Get(*cache, key, v1::WINDOW_SIZE_5M, true), std::nullopt);
  EXPECT_EQ(Command({"EXISTS", Key("final", "1m", key)})->integer, 1);
  EXPECT_EQ(Command({"EXISTS", Key("latest", "1m", key)})->integer, 1);
  EXPECT_EQ(Command({"EXISTS", Key("latest", "5m", key)})->integer, 1);
  EXPECT_EQ(Command({"EXISTS", Key("final", "5m", key)})->integer, 0);

  // An older final window does not replace the final entry either.
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0 - absl::Minutes(1), 9, true)}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, true),
              Optional(EqualsProto(WithoutSketch(final_window))));
}

TEST_F(RedisAggregateCacheTest, WritesSetTheTtl) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 1, /*is_final=*/true);
  ASSERT_TRUE(cache->PutLatest({w}).ok());
  for (const char* kind : {"latest", "final"}) {
    Reply ttl = Command({"PTTL", Key(kind, "1m", w.series_key())});
    ASSERT_EQ(ttl->type, REDIS_REPLY_INTEGER);
    EXPECT_GT(ttl->integer, absl::ToInt64Milliseconds(absl::Hours(1) - absl::Minutes(1))) << kind;
    EXPECT_LE(ttl->integer, absl::ToInt64Milliseconds(absl::Hours(1))) << kind;
  }
}

TEST_F(RedisAggregateCacheTest, PipelinedBatchOfTenThousandWindows) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  std::vector<v1::WindowAggregate> windows;
  for (int i = 0; i < 10'000; ++i) windows.push_back(CacheWindow(absl::StrCat("svc", i), kT0, 1));
  ASSERT_TRUE(cache->PutLatest(windows).ok());
  for (int i : {0, 4999, 9999}) {
    EXPECT_THAT(Get(*cache, windows[i].series_key(), v1::WINDOW_SIZE_1M, false),
                Optional(EqualsProto(WithoutSketch(windows[i]))));
  }
  Reply count = Command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", prefix_ + "*"});
  EXPECT_EQ(count->integer, 10'000);
}

TEST_F(RedisAggregateCacheTest, ClearDeletesEveryEntryOfItsPrefixAndNoOther) {
  const std::string base = prefix_;
  config_.key_prefix = base + "a[1]*:";  // glob characters are matched literally
  auto a = MakeCache();
  config_.key_prefix = base + "a:";
  auto other = MakeCache();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(other, nullptr);
  std::vector<v1::WindowAggregate> windows;
  for (int i = 0; i < 2500; ++i)
    windows.push_back(CacheWindow(absl::StrCat("svc", i), kT0, 1, true));
  ASSERT_TRUE(a->PutLatest(windows).ok());
  ASSERT_TRUE(other->PutLatest({windows[0]}).ok());
  ASSERT_TRUE(a->Clear().ok());
  EXPECT_EQ(Get(*a, windows[0].series_key(), v1::WINDOW_SIZE_1M, false), std::nullopt);
  EXPECT_EQ(Get(*a, windows[2499].series_key(), v1::WINDOW_SIZE_1M, true), std::nullopt);
  EXPECT_TRUE(Get(*other, windows[0].series_key(), v1::WINDOW_SIZE_1M, false).has_value());
  Reply left = Command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", base + "a[[]1]*"});
  EXPECT_EQ(left->integer, 0);
}

TEST_F(RedisAggregateCacheTest, BadBytesAreDataLoss) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  Command({"HSET", Key("latest", "1m", "broken"), "start", "0", "rev", "1", "data",
           std::string("\xff\xff\xff\x01", 4)});
  EXPECT_EQ(cache->GetLatest("broken", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kDataLoss);
  // A value that parses but holds another series is as wrong.
  const v1::WindowAggregate other = WithoutSketch(CacheWindow("other", kT0, 1));
  Command({"HSET", Key("latest", "1m", "misplaced"), "data", other.SerializeAsString()});
  EXPECT_EQ(cache->GetLatest("misplaced", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(cache->available());
}

TEST_F(RedisAggregateCacheTest, WindowWithoutSeriesKeyOrSizeIsRefusedAndNothingIsWritten) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate good = CacheWindow("svc", kT0, 1);
  v1::WindowAggregate no_key = CacheWindow("x", kT0, 1);
  no_key.clear_series_key();
  v1::WindowAggregate no_size = CacheWindow("y", kT0, 1);
  no_size.set_window_size(v1::WINDOW_SIZE_UNSPECIFIED);
  EXPECT_EQ(cache->PutLatest({good, no_key}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->PutLatest({good, no_size}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get(*cache, good.series_key(), v1::WINDOW_SIZE_1M, false), std::nullopt);
}

// Tests that stop, kill or restart a shared server: run alone (tests/CMakeLists.txt).

TEST_F(RedisAggregateCacheTest, ConcurrentCallersBeyondThePool) {
  config_.pool.max_connections = 2;
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t rev = 1; rev <= 50; ++rev) {
        const v1::WindowAggregate w = CacheWindow(absl::StrCat("svc", t), kT0, rev);
        if (!cache->PutLatest({w}).ok()) ++failures;
        absl::StatusOr<std::optional<v1::WindowAggregate>> got =
            cache->GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, false);
        if (!got.ok() || !got->has_value() || (*got)->revision() != rev) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(cache->available());
}

TEST_F(RedisAggregateCacheTest, CreateRefusesABadConfig) {
  RedisCacheConfig bad = config_;
  bad.pool.port = 0;
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.pool.host.clear();
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.pool.command_timeout = absl::ZeroDuration();
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.pool.max_connections = 0;
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.entry_ttl = absl::Microseconds(10);
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace

namespace testing {

// The AggregateCache contract, which FakeAggregateCache passes too. Each cache gets a key prefix
// of its own on the shared Redis; the suite's TearDown clears it.
struct RedisCacheFactory {
  static std::unique_ptr<AggregateCache> Make() {
    static std::atomic<int> next{0};
    RedisCacheConfig config;
    config.pool.host = streammetrics::testing::RedisHost();
    config.pool.port = streammetrics::testing::RedisPort();
    config.key_prefix =
        absl::StrCat("it:contract:", absl::ToUnixNanos(absl::Now()), ":", next.fetch_add(1), ":");
    config.pool.command_timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<RedisAggregateCache>> cache =
        RedisAggregateCache::Create(config);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? *std::move(cache) : nullptr;
  }
};
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, AggregateCacheContract, ::testing::Types<RedisCacheFactory>);

}  // namespace testing
}  // namespace streammetrics::aggregation
