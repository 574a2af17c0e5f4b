// RedisAggregateCache when the shared Redis goes away: the breaker fails fast while it is down
// and recovers after retry_after, idle connections a restart closed are replaced, a flushed
// script is sent again, and the cache starts with Redis down. These tests stop, restart or flush
// the shared server, so they run alone (FaultTest, tests/CMakeLists.txt).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "aggregation-service/query/redis_aggregate_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/redis_cache_fixture.h"
#include "tests/support/proto_matchers.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::CacheWindow;
using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::MakeWindow;
using ::streammetrics::aggregation::testing::Reply;
using ::streammetrics::aggregation::testing::WindowSpec;
using ::streammetrics::aggregation::testing::WithoutSketch;
using ::streammetrics::testing::EqualsProto;
using ::testing::HasSubstr;
using ::testing::Optional;

class RedisAggregateCacheFaultTest : public testing::RedisAggregateCacheTest {};

TEST_F(RedisAggregateCacheFaultTest, FlushedScriptIsSentAgain) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0, 1)}).ok());
  EXPECT_EQ(cache->script_reloads(), 0u);
  ASSERT_EQ(Command({"SCRIPT", "FLUSH"})->type, REDIS_REPLY_STATUS);

  // A batch: the first window goes by EVAL, the rest find the script by SHA again.
  std::vector<v1::WindowAggregate> batch = {CacheWindow("svc", kT0, 2)};
  for (int i = 0; i < 100; ++i) batch.push_back(CacheWindow(absl::StrCat("svc", i), kT0, 1));
  const int64_t evals_before = EvalCalls();
  ASSERT_TRUE(cache->PutLatest(batch).ok());
  EXPECT_EQ(cache->script_reloads(), 1u);
  EXPECT_EQ(EvalCalls() - evals_before, 1);
  for (const v1::WindowAggregate& w : batch) {
    EXPECT_THAT(Get(*cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
                Optional(EqualsProto(WithoutSketch(w))));
  }
  // EVAL put the script back: the next call finds it by SHA.
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0, 3)}).ok());
  EXPECT_EQ(cache->script_reloads(), 1u);
}

TEST_F(RedisAggregateCacheFaultTest, BreakerFailsFastWhileRedisIsDownAndRecoversAfterRetryAfter) {
  FakeClock clock;
  config_.pool.retry_after = absl::Seconds(1);
  auto cache = MakeCache(&clock);
  ASSERT_NE(cache, nullptr);
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 1);
  ASSERT_TRUE(cache->PutLatest({w}).ok());  // a pooled connection exists now

  StopRedis();
  absl::Status status = cache->PutLatest({CacheWindow("svc", kT0, 2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(cache->available());

  // Open: no attempt reaches the network, however often it is asked.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 1000; ++i) {
    status = cache->PutLatest({CacheWindow("svc", kT0, 2)});
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_THAT(status.message(), HasSubstr("unreachable since"));
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(config_.pool.host, ":", config_.pool.port)));
  EXPECT_EQ(cache->GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);

  // Redis is back, but the breaker waits for retry_after on its clock before trying.
  StartRedis();
  status = cache->PutLatest({CacheWindow("svc", kT0, 2)});
  EXPECT_THAT(status.message(), HasSubstr("unreachable since"));
  EXPECT_FALSE(cache->available());

  clock.Advance(absl::Seconds(1));
  const v1::WindowAggregate newer = CacheWindow("svc", kT0, 2);
  status = cache->PutLatest({newer});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(cache->available());
  // Redis restarted without the script: the call fell back to EVAL.
  EXPECT_EQ(cache->script_reloads(), 1u);
  EXPECT_THAT(Get(*cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(newer))));
}

TEST_F(RedisAggregateCacheFaultTest, FailedProbeKeepsTheBreakerOpenForAnotherRetryAfter) {
  FakeClock clock;
  config_.pool.retry_after = absl::Seconds(1);
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

TEST_F(RedisAggregateCacheFaultTest, IdleConnectionsClosedByARestartAreReplacedWithoutAFailure) {
  auto cache = MakeCache();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->PutLatest({CacheWindow("svc", kT0, 1)}).ok());
  ASSERT_TRUE(streammetrics::testing::RedisControl("restart").ok());
  const absl::Status status = cache->PutLatest({CacheWindow("svc", kT0, 2)});
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(cache->available());
}

TEST_F(RedisAggregateCacheFaultTest, CreateSucceedsWithRedisDown) {
  FakeClock clock;
  StopRedis();
  absl::StatusOr<std::unique_ptr<RedisAggregateCache>> cache =
      RedisAggregateCache::Create(config_, &clock);
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_FALSE((*cache)->available());
  EXPECT_EQ((*cache)->GetLatest("s", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);

  StartRedis();
  clock.Advance(config_.pool.retry_after);
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 1);
  const absl::Status status = (*cache)->PutLatest({w});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE((*cache)->available());
  EXPECT_THAT(Get(**cache, w.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(w))));
}

}  // namespace
}  // namespace streammetrics::aggregation
