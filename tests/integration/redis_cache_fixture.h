// The fixture of the RedisAggregateCache tests (redis_aggregate_cache_test.cc and, for the tests
// that stop the shared Redis, redis_aggregate_cache_fault_test.cc): a key prefix of its own per
// test, a connection of its own to look at what the cache wrote, and Redis restarted after a test
// that stopped it.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_REDIS_CACHE_FIXTURE_H_
#define STREAMMETRICS_TESTS_INTEGRATION_REDIS_CACHE_FIXTURE_H_

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation::testing {

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
    config_.pool.host = streammetrics::testing::RedisHost();
    config_.pool.port = streammetrics::testing::RedisPort();
    config_.key_prefix = prefix_;
    config_.entry_ttl = absl::Hours(1);
    // Generous for a loaded test machine; the breaker tests do not depend on it.
    config_.pool.command_timeout = absl::Seconds(5);
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
    ctx_.reset(
        redisConnectWithTimeout(config_.pool.host.c_str(), config_.pool.port, timeval{5, 0}));
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

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_REDIS_CACHE_FIXTURE_H_
