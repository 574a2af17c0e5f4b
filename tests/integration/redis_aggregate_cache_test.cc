// RedisAggregateCache against the local Redis: round trips (binary series keys, no sketch), the
// forward-only rule (across calls and within one pipelined batch), latest vs final keys, the TTL,
// a pipelined batch of 10,000 windows, DataLoss on bad bytes, the NOSCRIPT fallback, concurrent
// callers beyond the pool, and the circuit breaker across a Redis stop and start (timed with a
// FakeClock). Keys carry a prefix unique to the run; each test deletes its keys.
#include "aggregation-service/query/redis_aggregate_cache.h"

#include <hiredis/hiredis.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store_test_windows.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::MakeWindow;
using ::streammetrics::aggregation::testing::WindowSpec;
using ::testing::HasSubstr;
using ::testing::Optional;

MATCHER_P(EqualsProto, expected, "") {
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

v1::WindowAggregate Window(const std::string& service, absl::Time start, uint64_t revision,
                           bool is_final = false, v1::WindowSize size = v1::WINDOW_SIZE_1M) {
  return MakeWindow(WindowSpec{.service = service,
                               .size = size,
                               .start = start,
                               .is_final = is_final,
                               .revision = revision});
}

v1::WindowAggregate WithoutSketch(v1::WindowAggregate w) {
  w.clear_sketch();
  return w;
}

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisAggregateCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = absl::StrCat("it:cache:", absl::ToUnixNanos(absl::Now()), ":");
    config_.host = streammetrics::testing::RedisHost();
    config_.port = streammetrics::testing::RedisPort();
    config_.key_prefix = prefix_;
    config_.entry_ttl = absl::Hours(1);
    // Generous for a loaded test machine; the breaker tests do not depend on it.
    config_.command_timeout = absl::Seconds(5);
    Connect();
  }

  void TearDown() override {
    if (stopped_redis_) {
      ASSERT_TRUE(streammetrics::testing::RedisControl("start").ok());
    }
    Connect();
    // Deletes this test's keys.
    std::string cursor = "0";
    do {
      Reply r = Command({"SCAN", cursor, "MATCH", prefix_ + "*", "COUNT", "1000"});
      ASSERT_NE(r, nullptr);
      ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
      cursor.assign(r->element[0]->str, r->element[0]->len);
      for (size_t i = 0; i < r->element[1]->elements; ++i) {
        const redisReply* key = r->element[1]->element[i];
        Command({"DEL", std::string(key->str, key->len)});
      }
    } while (cursor != "0");
  }

  void Connect() {
    ctx_.reset(redisConnectWithTimeout(config_.host.c_str(), config_.port, timeval{5, 0}));
    ASSERT_NE(ctx_, nullptr);
    ASSERT_EQ(ctx_->err, 0) << ctx_->errstr;
  }

  // A command on the test's own connection, arguments binary-safe.
  Reply Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(), lens.data())));
  }

  std::unique_ptr<RedisAggregateCache> MakeCache(const Clock* clock = RealClock::Get()) {
    absl::StatusOr<std::unique_ptr<RedisAggregateCache>> cache =
        RedisAggregateCache::Create(config_, clock);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? *std::move(cache) : nullptr;
  }

  // Calls of EVAL Redis counted since it started (INFO commandstats).
  int64_t EvalCalls() {
    Reply info = Command({"INFO", "commandstats"});
    EXPECT_EQ(info->type, REDIS_REPLY_STRING);
    const std::string text(info->str, info->len);
    const std::string tag = "cmdstat_eval:calls=";
    const size_t at = text.find(tag);
    return at == std::string::npos ? 0 : std::stoll(text.substr(at + tag.size()));
  }

  // GetLatest, failing the test (not crashing it) when the call fails.
  std::optional<v1::WindowAggregate> Get(RedisAggregateCache& cache, const std::string& series_key,
                                         v1::WindowSize size, bool final_only) {
    absl::StatusOr<std::optional<v1::WindowAggregate>> got =
        cache.GetLatest(series_key, size, final_only);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }

  void StopRedis() {
    stopped_redis_ = true;
    ASSERT_TRUE(streammetrics::testing::RedisControl("stop").ok());
  }
  void StartRedis() {
    ASSERT_TRUE(streammetrics::testing::RedisControl("start").ok());
    stopped_redis_ = false;
  }

  std::string Key(const std::string& kind, const std::string& size, const std::string& series_key) {
    return absl::StrCat(prefix_, kind, ":", size, ":", series_key);
  }

  std::string prefix_;
  RedisCacheConfig config_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  bool stopped_redis_ = false;
};

TEST_F(RedisAggregateCacheTest, RoundTripStoresTheWindowWithoutItsSketch) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(cache->available());
  const v1::WindowAggregate w = Window("svc", kT0, 3);
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
  v1::WindowAggregate w = Window("svc", kT0, 1);
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
  const v1::WindowAggregate current = Window("svc", kT0, 2);
  const std::string& key = current.series_key();
  ASSERT_TRUE(cache->PutLatest({current}).ok());

  // An older window written after a newer one, a lower revision of the same window, and the same
  // revision again (with other numbers): none replaces it.
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0 - absl::Minutes(1), 9)}).ok());
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0, 1)}).ok());
  v1::WindowAggregate same_revision = Window("svc", kT0, 2);
  same_revision.set_count(12345);
  ASSERT_TRUE(cache->PutLatest({same_revision}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(current))));

  // Within one pipelined batch too: the newer one wins whatever the order.
  const v1::WindowAggregate higher = Window("svc", kT0, 5);
  ASSERT_TRUE(cache->PutLatest({higher, Window("svc", kT0, 4)}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(higher))));

  const v1::WindowAggregate later = Window("svc", kT0 + absl::Minutes(1), 1);
  ASSERT_TRUE(cache->PutLatest({later}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(later))));
}

TEST_F(RedisAggregateCacheTest, RevisionsAboveTwoToThe53AreComparedExactly) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  // 2^53 + 1 and 2^53 are the same Lua number; the script compares the digits.
  const uint64_t big = (uint64_t{1} << 53) + 1;
  const v1::WindowAggregate higher = Window("svc", kT0, big);
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0, big - 1)}).ok());
  ASSERT_TRUE(cache->PutLatest({higher}).ok());
  EXPECT_THAT(Get(*cache, higher.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(higher))));
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0, UINT64_MAX)}).ok());
  const std::optional<v1::WindowAggregate> top =
      Get(*cache, higher.series_key(), v1::WINDOW_SIZE_1M, false);
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->revision(), UINT64_MAX);
}

TEST_F(RedisAggregateCacheTest, FinalAndLatestKeysAreSeparate) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate final_window = Window("svc", kT0, 7, /*is_final=*/true);
  const v1::WindowAggregate open_window = Window("svc", kT0 + absl::Minutes(1), 1);
  const v1::WindowAggregate five = Window("svc", kT0, 2, false, v1::WINDOW_SIZE_5M);
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
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0 - absl::Minutes(1), 9, true)}).ok());
  EXPECT_THAT(Get(*cache, key, v1::WINDOW_SIZE_1M, true),
              Optional(EqualsProto(WithoutSketch(final_window))));
}

TEST_F(RedisAggregateCacheTest, WritesSetTheTtl) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate w = Window("svc", kT0, 1, /*is_final=*/true);
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
  for (int i = 0; i < 10'000; ++i) windows.push_back(Window(absl::StrCat("svc", i), kT0, 1));
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
  for (int i = 0; i < 2500; ++i) windows.push_back(Window(absl::StrCat("svc", i), kT0, 1, true));
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
  const v1::WindowAggregate other = WithoutSketch(Window("other", kT0, 1));
  Command({"HSET", Key("latest", "1m", "misplaced"), "data", other.SerializeAsString()});
  EXPECT_EQ(cache->GetLatest("misplaced", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(cache->available());
}

TEST_F(RedisAggregateCacheTest, WindowWithoutSeriesKeyOrSizeIsRefusedAndNothingIsWritten) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate good = Window("svc", kT0, 1);
  v1::WindowAggregate no_key = Window("x", kT0, 1);
  no_key.clear_series_key();
  v1::WindowAggregate no_size = Window("y", kT0, 1);
  no_size.set_window_size(v1::WINDOW_SIZE_UNSPECIFIED);
  EXPECT_EQ(cache->PutLatest({good, no_key}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->PutLatest({good, no_size}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get(*cache, good.series_key(), v1::WINDOW_SIZE_1M, false), std::nullopt);
}

TEST_F(RedisAggregateCacheTest, FlushedScriptIsSentAgain) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0, 1)}).ok());
  EXPECT_EQ(cache->script_reloads(), 0u);
  ASSERT_EQ(Command({"SCRIPT", "FLUSH"})->type, REDIS_REPLY_STATUS);

  // A batch: the first window goes by EVAL, the rest find the script by SHA again.
  std::vector<v1::WindowAggregate> batch = {Window("svc", kT0, 2)};
  for (int i = 0; i < 100; ++i) batch.push_back(Window(absl::StrCat("svc", i), kT0, 1));
  const int64_t evals_before = EvalCalls();
  ASSERT_TRUE(cache->PutLatest(batch).ok());
  EXPECT_EQ(cache->script_reloads(), 1u);
  EXPECT_EQ(EvalCalls() - evals_before, 1);
  for (const v1::WindowAggregate& w : batch) {
    EXPECT_THAT(Get(*cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
                Optional(EqualsProto(WithoutSketch(w))));
  }
  // EVAL put the script back: the next call finds it by SHA.
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0, 3)}).ok());
  EXPECT_EQ(cache->script_reloads(), 1u);
}

TEST_F(RedisAggregateCacheTest, ConcurrentCallersBeyondThePool) {
  config_.max_connections = 2;
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t rev = 1; rev <= 50; ++rev) {
        const v1::WindowAggregate w = Window(absl::StrCat("svc", t), kT0, rev);
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

TEST_F(RedisAggregateCacheTest, BreakerFailsFastWhileRedisIsDownAndRecoversAfterRetryAfter) {
  FakeClock clock;
  config_.retry_after = absl::Seconds(1);
  auto cache = MakeCache(&clock);
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate w = Window("svc", kT0, 1);
  ASSERT_TRUE(cache->PutLatest({w}).ok());  // a pooled connection exists now

  StopRedis();
  absl::Status status = cache->PutLatest({Window("svc", kT0, 2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(cache->available());

  // Open: no attempt reaches the network, however often it is asked.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 1000; ++i) {
    status = cache->PutLatest({Window("svc", kT0, 2)});
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_THAT(status.message(), HasSubstr("unreachable since"));
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(config_.host, ":", config_.port)));
  EXPECT_EQ(cache->GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);

  // Redis is back, but the breaker waits for retry_after on its clock before trying.
  StartRedis();
  status = cache->PutLatest({Window("svc", kT0, 2)});
  EXPECT_THAT(status.message(), HasSubstr("unreachable since"));
  EXPECT_FALSE(cache->available());

  clock.Advance(absl::Seconds(1));
  const v1::WindowAggregate newer = Window("svc", kT0, 2);
  status = cache->PutLatest({newer});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(cache->available());
  // Redis restarted without the script: the call fell back to EVAL.
  EXPECT_EQ(cache->script_reloads(), 1u);
  EXPECT_THAT(Get(*cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(newer))));
}

TEST_F(RedisAggregateCacheTest, FailedProbeKeepsTheBreakerOpenForAnotherRetryAfter) {
  FakeClock clock;
  config_.retry_after = absl::Seconds(1);
  auto cache = MakeCache(&clock);
  ASSERT_NE(cache, nullptr);
  StopRedis();
  EXPECT_EQ(cache->GetLatest("s", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);
  clock.Advance(absl::Seconds(1));
  // The probe fails (Redis still down) and reopens the breaker from now.
  EXPECT_EQ(cache->GetLatest("s", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);
  StartRedis();
  clock.Advance(absl::Milliseconds(999));
  EXPECT_THAT(cache->GetLatest("s", v1::WINDOW_SIZE_1M, false).status().message(),
              HasSubstr("unreachable since"));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(cache->GetLatest("s", v1::WINDOW_SIZE_1M, false).ok());
  EXPECT_TRUE(cache->available());
}

TEST_F(RedisAggregateCacheTest, IdleConnectionsClosedByARestartAreReplacedWithoutAFailure) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->PutLatest({Window("svc", kT0, 1)}).ok());
  ASSERT_TRUE(streammetrics::testing::RedisControl("restart").ok());
  const absl::Status status = cache->PutLatest({Window("svc", kT0, 2)});
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(cache->available());
}

TEST_F(RedisAggregateCacheTest, CreateSucceedsWithRedisDown) {
  FakeClock clock;
  StopRedis();
  absl::StatusOr<std::unique_ptr<RedisAggregateCache>> cache =
      RedisAggregateCache::Create(config_, &clock);
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_FALSE((*cache)->available());
  EXPECT_EQ((*cache)->GetLatest("s", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);

  StartRedis();
  clock.Advance(config_.retry_after);
  const v1::WindowAggregate w = Window("svc", kT0, 1);
  const absl::Status status = (*cache)->PutLatest({w});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE((*cache)->available());
  EXPECT_THAT(Get(**cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(w))));
}

TEST_F(RedisAggregateCacheTest, CreateRefusesABadConfig) {
  RedisCacheConfig bad = config_;
  bad.port = 0;
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.host.clear();
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.command_timeout = absl::ZeroDuration();
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.max_connections = 0;
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = config_;
  bad.entry_ttl = absl::Microseconds(10);
  EXPECT_EQ(RedisAggregateCache::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace streammetrics::aggregation
