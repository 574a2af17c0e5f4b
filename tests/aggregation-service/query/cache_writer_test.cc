// CacheWriter: offered windows reach the cache off the caller's thread, only the newest per
// (series, size, latest|final) is kept while waiting, a failed write is retried and catches up
// with what was offered meanwhile, and Stop makes one last attempt without waiting for a backoff.
// Steered through FakeAggregateCache (unavailable, blocked puts) and a FakeClock that times the
// backoffs; waits poll with a deadline.
#include "aggregation-service/query/cache_writer.h"

#include <string>
#include <vector>

#include "aggregation-service/query/fake_aggregate_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/common/clock.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/support/proto_matchers.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::CacheWindow;
using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::MakeWindow;
using ::streammetrics::aggregation::testing::WindowSpec;
using ::streammetrics::aggregation::testing::WithoutSketch;
using ::streammetrics::testing::PollUntil;
using ::testing::Optional;

using ::streammetrics::testing::EqualsProto;

constexpr absl::Duration kWait = absl::Seconds(20);

// Backoffs of 5 to 20 ms on the writer's FakeClock: a test that waits for a retry advances it.
CacheWriterOptions Fast() {
  return CacheWriterOptions{.initial_backoff = absl::Milliseconds(5),
                            .max_backoff = absl::Milliseconds(20)};
}

TEST(CacheWriterTest, OfferedWindowsReachTheCacheWithoutSketches) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  const v1::WindowAggregate a = CacheWindow("a", kT0, 1);
  const v1::WindowAggregate b = CacheWindow("b", kT0, 1);
  writer.Offer({a, b});
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_THAT(cache.Peek(a.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(a))));
  EXPECT_THAT(cache.Peek(b.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(b))));
  EXPECT_EQ(writer.written(), 2u);
  EXPECT_EQ(writer.pending(), 0u);
  EXPECT_EQ(writer.failures(), 0u);
}

TEST(CacheWriterTest, OfferDoesNotWaitForAWriteInFlightAndKeepsOnlyTheNewest) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  cache.BlockPuts(true);
  writer.Offer({CacheWindow("a", kT0, 1)});
  ASSERT_TRUE(cache.AwaitBlockedPuts(1, kWait));
  EXPECT_EQ(writer.pending(), 1u);  // in flight

  // The write is stuck in the cache; offering still returns, and merges per key.
  const v1::WindowAggregate newest = CacheWindow("a", kT0, 3);
  writer.Offer({CacheWindow("a", kT0, 2)});
  writer.Offer({newest, CacheWindow("a", kT0 - absl::Minutes(1), 7), CacheWindow("a", kT0, 1)});
  EXPECT_EQ(writer.pending(), 2u);  // one in flight, one waiting

  cache.BlockPuts(false);
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_THAT(cache.Peek(newest.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(newest))));
  EXPECT_EQ(cache.put_calls(), 2u);
  EXPECT_EQ(cache.windows_put(), 2u);
}

TEST(CacheWriterTest, FinalWindowReachesTheCacheWhenANewerOpenOneFollowsIt) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  cache.BlockPuts(true);
  writer.Offer({CacheWindow("warmup", kT0, 1)});
  ASSERT_TRUE(cache.AwaitBlockedPuts(1, kWait));
  // Both wait in the same batch: the open window must not push the final one out.
  const v1::WindowAggregate final_window = CacheWindow("a", kT0, 5, /*is_final=*/true);
  const v1::WindowAggregate open_window = CacheWindow("a", kT0 + absl::Minutes(1), 1);
  writer.Offer({final_window});
  writer.Offer({open_window});
  cache.BlockPuts(false);
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_THAT(cache.Peek(final_window.series_key(), v1::WINDOW_SIZE_1M, true),
              Optional(EqualsProto(WithoutSketch(final_window))));
  EXPECT_THAT(cache.Peek(final_window.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(open_window))));
}

TEST(CacheWriterTest, FinalWindowThatIsAlsoTheNewestIsSentOnce) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  const v1::WindowAggregate final_window = CacheWindow("a", kT0, 5, /*is_final=*/true);
  writer.Offer({final_window});
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_EQ(cache.windows_put(), 1u);
  EXPECT_EQ(writer.written(), 1u);
  EXPECT_THAT(cache.Peek(final_window.series_key(), v1::WINDOW_SIZE_1M, true),
              Optional(EqualsProto(WithoutSketch(final_window))));
}

TEST(CacheWriterTest, FailedWriteIsRetriedAndCatchesUpWithWhatCameMeanwhile) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  cache.SetAvailable(false);
  writer.Offer({CacheWindow("a", kT0, 1), CacheWindow("b", kT0, 1)});
  // Retried once the backoff has passed on the writer's clock.
  ASSERT_TRUE(PollUntil(kWait, [&] {
    clock.Advance(absl::Milliseconds(20));
    return writer.failures() >= 2;
  }));
  const v1::WindowAggregate a = CacheWindow("a", kT0, 2);
  const v1::WindowAggregate c = CacheWindow("c", kT0, 1);
  writer.Offer({a, c});
  EXPECT_GE(writer.pending(), 3u);  // three keys, plus any of them in flight
  EXPECT_EQ(cache.entries(), 0u);

  cache.SetAvailable(true);
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_THAT(cache.Peek(a.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(a))));
  EXPECT_TRUE(
      cache.Peek(CacheWindow("b", kT0, 1).series_key(), v1::WINDOW_SIZE_1M, false).has_value());
  EXPECT_TRUE(cache.Peek(c.series_key(), v1::WINDOW_SIZE_1M, false).has_value());
  EXPECT_EQ(writer.written(), 3u);
}

TEST(CacheWriterTest, FailedWriteMergesBackKeepingWindowsOfferedWhileItWasInFlight) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  cache.BlockPuts(true);
  writer.Offer({CacheWindow("a", kT0, 1)});
  ASSERT_TRUE(cache.AwaitBlockedPuts(1, kWait));
  const v1::WindowAggregate newer = CacheWindow("a", kT0, 2);
  writer.Offer({newer});
  // The write in flight fails; its older window must not replace the newer one waiting.
  cache.SetAvailable(false);
  cache.BlockPuts(false);
  ASSERT_TRUE(PollUntil(kWait, [&] { return writer.failures() >= 1; }));
  EXPECT_EQ(writer.pending(), 1u);
  cache.SetAvailable(true);
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_THAT(cache.Peek(newer.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(newer))));
  EXPECT_EQ(cache.windows_put(), 1u);  // only the newer one was ever written
}

TEST(CacheWriterTest, FlushGivesUpAtItsTimeoutWhileTheCacheIsDown) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  cache.SetAvailable(false);
  writer.Offer({CacheWindow("a", kT0, 1)});
  EXPECT_FALSE(writer.Flush(absl::Milliseconds(50)));
  EXPECT_EQ(writer.pending(), 1u);
}

TEST(CacheWriterTest, StopMakesOneLastAttemptWithoutWaitingForTheBackoff) {
  FakeAggregateCache cache;
  // A backoff no test would wait for: Stop must not.
  FakeClock clock;
  CacheWriter writer(
      &cache, CacheWriterOptions{.initial_backoff = absl::Hours(1), .max_backoff = absl::Hours(1)},
      &clock);
  cache.SetAvailable(false);
  const v1::WindowAggregate a = CacheWindow("a", kT0, 1);
  writer.Offer({a});
  ASSERT_TRUE(PollUntil(kWait, [&] { return writer.failures() == 1; }));
  cache.SetAvailable(true);
  writer.Stop();
  EXPECT_TRUE(cache.Peek(a.series_key(), v1::WINDOW_SIZE_1M, false).has_value());
  EXPECT_EQ(writer.pending(), 0u);
  writer.Stop();  // idempotent
}

TEST(CacheWriterTest, StopWithTheCacheDownLeavesWindowsPending) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(
      &cache, CacheWriterOptions{.initial_backoff = absl::Hours(1), .max_backoff = absl::Hours(1)},
      &clock);
  cache.SetAvailable(false);
  writer.Offer({CacheWindow("a", kT0, 1)});
  writer.Stop();
  EXPECT_EQ(writer.pending(), 1u);
  EXPECT_GE(writer.failures(), 1u);
}

TEST(CacheWriterTest, SkipsWindowsTheCacheWouldRefuse) {
  FakeAggregateCache cache;
  FakeClock clock;
  CacheWriter writer(&cache, Fast(), &clock);
  v1::WindowAggregate no_key = CacheWindow("a", kT0, 1);
  no_key.clear_series_key();
  v1::WindowAggregate no_size = CacheWindow("b", kT0, 1);
  no_size.set_window_size(v1::WINDOW_SIZE_UNSPECIFIED);
  const v1::WindowAggregate good = CacheWindow("c", kT0, 1);
  writer.Offer({no_key, no_size, good});
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_EQ(writer.failures(), 0u);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_TRUE(cache.Peek(good.series_key(), v1::WINDOW_SIZE_1M, false).has_value());
}

TEST(CacheWriterTest, OverMaxPendingDropsEverythingAndClearsTheCacheBeforeTheNextWrite) {
  FakeAggregateCache cache;
  // A stale entry the dropped windows would have replaced.
  const v1::WindowAggregate old_a = CacheWindow("a", kT0, 1);
  ASSERT_TRUE(cache.PutLatest({old_a}).ok());
  CacheWriterOptions options = Fast();
  options.max_pending = 3;
  FakeClock clock;
  CacheWriter writer(&cache, options, &clock);
  cache.SetAvailable(false);
  writer.Offer({CacheWindow("a", kT0 + absl::Minutes(1), 1), CacheWindow("b", kT0, 1),
                CacheWindow("c", kT0, 1), CacheWindow("d", kT0, 1)});
  EXPECT_EQ(writer.dropped(), 4u);
  EXPECT_EQ(writer.pending(), 0u);
  cache.SetAvailable(true);
  const v1::WindowAggregate e = CacheWindow("e", kT0, 1);
  writer.Offer({e});
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_GE(cache.clear_calls(), 1u);
  // The stale entry is gone (a reader misses and reads PostgreSQL), the new one is there.
  EXPECT_EQ(cache.Peek(old_a.series_key(), v1::WINDOW_SIZE_1M, false), std::nullopt);
  EXPECT_THAT(cache.Peek(e.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(e))));
}

TEST(CacheWriterTest, AClearThatFailsIsRetriedBeforeAnyWrite) {
  FakeAggregateCache cache;
  ASSERT_TRUE(cache.PutLatest({CacheWindow("old", kT0, 1)}).ok());
  CacheWriterOptions options = Fast();
  options.max_pending = 1;
  FakeClock clock;
  CacheWriter writer(&cache, options, &clock);
  cache.SetAvailable(false);
  writer.Offer({CacheWindow("a", kT0, 1), CacheWindow("b", kT0, 1)});
  writer.Offer({CacheWindow("c", kT0, 1)});
  ASSERT_TRUE(PollUntil(kWait, [&] {
    clock.Advance(absl::Milliseconds(20));
    return cache.clear_calls() >= 2;
  }));
  EXPECT_EQ(cache.entries(), 1u);  // nothing written while the clear fails
  cache.SetAvailable(true);
  ASSERT_TRUE(writer.Flush(kWait));
  EXPECT_EQ(cache.Peek(CacheWindow("old", kT0, 1).series_key(), v1::WINDOW_SIZE_1M, false),
            std::nullopt);
  EXPECT_TRUE(
      cache.Peek(CacheWindow("c", kT0, 1).series_key(), v1::WINDOW_SIZE_1M, false).has_value());
}

}  // namespace
}  // namespace streammetrics::aggregation
