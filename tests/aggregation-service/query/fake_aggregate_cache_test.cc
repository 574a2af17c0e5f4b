// FakeAggregateCache keeps AggregateCache's promises (forward-only entries, latest and final kept
// apart, windows without sketches, InvalidArgument checks) and its knobs work, so CacheWriter tests
// built on it test against RedisAggregateCache's behaviour.
#include "aggregation-service/query/fake_aggregate_cache.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/query/aggregate_cache_contract.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/support/proto_matchers.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::CacheWindow;
using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::MakeWindow;
using ::streammetrics::aggregation::testing::WindowSpec;
using ::streammetrics::aggregation::testing::WithoutSketch;
using ::testing::Optional;

using ::streammetrics::testing::EqualsProto;

TEST(FakeAggregateCacheTest, ReturnsWhatWasPutWithoutItsSketch) {
  FakeAggregateCache cache;
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 1);
  ASSERT_TRUE(w.has_sketch());
  ASSERT_TRUE(cache.PutLatest({w}).ok());
  absl::StatusOr<std::optional<v1::WindowAggregate>> got =
      cache.GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, Optional(EqualsProto(WithoutSketch(w))));
  EXPECT_EQ(*cache.GetLatest(w.series_key(), v1::WINDOW_SIZE_5M, false), std::nullopt);
  EXPECT_EQ(*cache.GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, true), std::nullopt);
  EXPECT_EQ(*cache.GetLatest("other", v1::WINDOW_SIZE_1M, false), std::nullopt);
}

TEST(FakeAggregateCacheTest, OnlyMovesForward) {
  FakeAggregateCache cache;
  const v1::WindowAggregate current = CacheWindow("svc", kT0, 2);
  ASSERT_TRUE(cache.PutLatest({current}).ok());
  // Older start with a higher revision, same start with a lower or equal revision: all ignored.
  ASSERT_TRUE(
      cache.PutLatest({CacheWindow("svc", kT0 - absl::Minutes(1), 9), CacheWindow("svc", kT0, 1)})
          .ok());
  v1::WindowAggregate same_revision = CacheWindow("svc", kT0, 2);
  same_revision.set_count(99);
  ASSERT_TRUE(cache.PutLatest({same_revision}).ok());
  EXPECT_THAT(cache.Peek(current.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(current))));

  const v1::WindowAggregate higher_revision = CacheWindow("svc", kT0, 3);
  ASSERT_TRUE(cache.PutLatest({higher_revision}).ok());
  EXPECT_THAT(cache.Peek(current.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(higher_revision))));
  const v1::WindowAggregate later = CacheWindow("svc", kT0 + absl::Minutes(1), 1);
  ASSERT_TRUE(cache.PutLatest({later}).ok());
  EXPECT_THAT(cache.Peek(current.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(later))));
}

TEST(FakeAggregateCacheTest, KeepsTheNewestFinalWindowApartFromTheNewestWindow) {
  FakeAggregateCache cache;
  const v1::WindowAggregate final_window = CacheWindow("svc", kT0, 4, /*is_final=*/true);
  const v1::WindowAggregate open_window = CacheWindow("svc", kT0 + absl::Minutes(1), 1);
  ASSERT_TRUE(cache.PutLatest({final_window, open_window}).ok());
  EXPECT_THAT(*cache.GetLatest(final_window.series_key(), v1::WINDOW_SIZE_1M, false),
              Optional(EqualsProto(WithoutSketch(open_window))));
  EXPECT_THAT(*cache.GetLatest(final_window.series_key(), v1::WINDOW_SIZE_1M, true),
              Optional(EqualsProto(WithoutSketch(final_window))));
  EXPECT_EQ(cache.entries(), 2u);
}

TEST(FakeAggregateCacheTest, RefusesWindowsWithoutSeriesKeyOrSizeAndWritesNothing) {
  FakeAggregateCache cache;
  v1::WindowAggregate no_key = CacheWindow("svc", kT0, 1);
  no_key.clear_series_key();
  v1::WindowAggregate no_size = CacheWindow("svc", kT0, 1);
  no_size.set_window_size(v1::WINDOW_SIZE_UNSPECIFIED);
  EXPECT_EQ(cache.PutLatest({CacheWindow("svc", kT0, 1), no_key}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.PutLatest({no_size}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.GetLatest("", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FakeAggregateCacheTest, UnavailableFailsEveryCallAndWritesNothing) {
  FakeAggregateCache cache;
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 1);
  cache.SetAvailable(false);
  EXPECT_EQ(cache.PutLatest({w}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache.GetLatest(w.series_key(), v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache.entries(), 0u);
  cache.SetAvailable(true);
  EXPECT_TRUE(cache.PutLatest({w}).ok());
  EXPECT_EQ(cache.put_calls(), 2u);
  EXPECT_EQ(cache.get_calls(), 1u);
  EXPECT_EQ(cache.windows_put(), 1u);
}

TEST(FakeAggregateCacheTest, BlockedPutWaitsUntilUnblocked) {
  FakeAggregateCache cache;
  const v1::WindowAggregate w = CacheWindow("svc", kT0, 1);
  cache.BlockPuts(true);
  absl::Status status = absl::UnknownError("not returned");
  std::thread putter([&] { status = cache.PutLatest({w}); });
  ASSERT_TRUE(cache.AwaitBlockedPuts(1, absl::Seconds(10)));
  EXPECT_EQ(cache.entries(), 0u);
  // Availability is checked once the block ends.
  cache.SetAvailable(false);
  cache.BlockPuts(false);
  putter.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache.entries(), 0u);
}

}  // namespace

namespace testing {

// The AggregateCache contract, which RedisAggregateCache passes too.
struct FakeCacheFactory {
  static std::unique_ptr<AggregateCache> Make() { return std::make_unique<FakeAggregateCache>(); }
};
INSTANTIATE_TYPED_TEST_SUITE_P(Fake, AggregateCacheContract, ::testing::Types<FakeCacheFactory>);

}  // namespace testing
}  // namespace streammetrics::aggregation
