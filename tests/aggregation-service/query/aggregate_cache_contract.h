// The AggregateCache contract as one typed test suite, run against every implementation: the
// in-memory fake (aggregation_test) and Redis (aggregation_integration_test). A fake that passes
// it behaves like the real cache in what callers rely on: forward-only entries, windows without
// their sketch, the final entry beside the latest, InvalidArgument without a partial write,
// Clear.
//
// Use: a factory type with `static std::unique_ptr<AggregateCache> Make();` (a cache of its own,
// empty: e.g. a fresh key prefix), then
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, AggregateCacheContract, FactoryType);
#ifndef STREAMMETRICS_TESTS_AGGREGATION_SERVICE_QUERY_AGGREGATE_CACHE_CONTRACT_H_
#define STREAMMETRICS_TESTS_AGGREGATION_SERVICE_QUERY_AGGREGATE_CACHE_CONTRACT_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "aggregation-service/query/aggregate_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/support/proto_matchers.h"

namespace streammetrics::aggregation::testing {

template <typename Factory>
class AggregateCacheContract : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = Factory::Make();
    ASSERT_NE(cache_, nullptr);
  }
  void TearDown() override {
    if (cache_ != nullptr) {
      EXPECT_TRUE(cache_->Clear().ok());
    }
  }

  std::optional<v1::WindowAggregate> Get(const v1::WindowAggregate& like, bool final_only) {
    absl::StatusOr<std::optional<v1::WindowAggregate>> got =
        cache_->GetLatest(like.series_key(), like.window_size(), final_only);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }

  std::unique_ptr<AggregateCache> cache_;
};

TYPED_TEST_SUITE_P(AggregateCacheContract);

TYPED_TEST_P(AggregateCacheContract, MissIsEmptyNotAnError) {
  const v1::WindowAggregate w = CacheWindow("contract", kT0, 1);
  EXPECT_EQ(this->Get(w, false), std::nullopt);
  EXPECT_EQ(this->Get(w, true), std::nullopt);
}

TYPED_TEST_P(AggregateCacheContract, KeepsTheWindowWithoutItsSketch) {
  const v1::WindowAggregate w = CacheWindow("contract", kT0, 3);
  ASSERT_TRUE(this->cache_->PutLatest({w}).ok());
  EXPECT_THAT(this->Get(w, false),
              ::testing::Optional(::streammetrics::testing::EqualsProto(WithoutSketch(w))));
  EXPECT_EQ(this->Get(w, true), std::nullopt) << "an open window is no final entry";
}

TYPED_TEST_P(AggregateCacheContract, EntriesOnlyMoveForward) {
  using ::streammetrics::testing::EqualsProto;
  const v1::WindowAggregate newer = CacheWindow("contract", kT0 + absl::Minutes(1), 2);
  ASSERT_TRUE(this->cache_->PutLatest({newer}).ok());
  // An earlier window, and the same window at a lower or equal revision, change nothing.
  ASSERT_TRUE(this->cache_->PutLatest({CacheWindow("contract", kT0, 9)}).ok());
  ASSERT_TRUE(this->cache_->PutLatest({CacheWindow("contract", kT0 + absl::Minutes(1), 1)}).ok());
  ASSERT_TRUE(this->cache_->PutLatest({CacheWindow("contract", kT0 + absl::Minutes(1), 2)}).ok());
  EXPECT_THAT(this->Get(newer, false), ::testing::Optional(EqualsProto(WithoutSketch(newer))));
  // A higher revision of the same window replaces it.
  const v1::WindowAggregate revised = CacheWindow("contract", kT0 + absl::Minutes(1), 3);
  ASSERT_TRUE(this->cache_->PutLatest({revised}).ok());
  EXPECT_THAT(this->Get(newer, false), ::testing::Optional(EqualsProto(WithoutSketch(revised))));
}

TYPED_TEST_P(AggregateCacheContract, FinalEntryIsKeptBesideANewerOpenOne) {
  using ::streammetrics::testing::EqualsProto;
  const v1::WindowAggregate final_window = CacheWindow("contract", kT0, 4, /*is_final=*/true);
  const v1::WindowAggregate open_window = CacheWindow("contract", kT0 + absl::Minutes(1), 1);
  ASSERT_TRUE(this->cache_->PutLatest({final_window, open_window}).ok());
  EXPECT_THAT(this->Get(open_window, false),
              ::testing::Optional(EqualsProto(WithoutSketch(open_window))));
  EXPECT_THAT(this->Get(open_window, true),
              ::testing::Optional(EqualsProto(WithoutSketch(final_window))));
}

TYPED_TEST_P(AggregateCacheContract, SizesAreSeparateEntries) {
  const v1::WindowAggregate one = CacheWindow("contract", kT0, 1, false, v1::WINDOW_SIZE_1M);
  const v1::WindowAggregate five = CacheWindow("contract", kT0, 1, false, v1::WINDOW_SIZE_5M);
  ASSERT_TRUE(this->cache_->PutLatest({one}).ok());
  EXPECT_NE(this->Get(one, false), std::nullopt);
  EXPECT_EQ(this->Get(five, false), std::nullopt);
}

TYPED_TEST_P(AggregateCacheContract, AWindowWithoutIdentityFailsTheCallAndWritesNothing) {
  const v1::WindowAggregate good = CacheWindow("contract", kT0, 1);
  v1::WindowAggregate no_key = CacheWindow("contract", kT0, 1);
  no_key.clear_series_key();
  v1::WindowAggregate no_size = CacheWindow("contract", kT0, 1);
  no_size.set_window_size(v1::WINDOW_SIZE_UNSPECIFIED);
  EXPECT_EQ(this->cache_->PutLatest({good, no_key}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->cache_->PutLatest({good, no_size}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->Get(good, false), std::nullopt);
  EXPECT_EQ(this->cache_->GetLatest("", v1::WINDOW_SIZE_1M, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->cache_->GetLatest(good.series_key(), v1::WINDOW_SIZE_UNSPECIFIED, false)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TYPED_TEST_P(AggregateCacheContract, ClearEmptiesTheCacheAndWritesStillWorkAfter) {
  const v1::WindowAggregate w = CacheWindow("contract", kT0, 5, /*is_final=*/true);
  ASSERT_TRUE(this->cache_->PutLatest({w}).ok());
  ASSERT_TRUE(this->cache_->Clear().ok());
  EXPECT_EQ(this->Get(w, false), std::nullopt);
  EXPECT_EQ(this->Get(w, true), std::nullopt);
  // After a Clear, even an older window is welcome: nothing is cached to be newer.
  ASSERT_TRUE(this->cache_->PutLatest({CacheWindow("contract", kT0, 1)}).ok());
  EXPECT_NE(this->Get(w, false), std::nullopt);
}

TYPED_TEST_P(AggregateCacheContract, AnEmptyPutIsANoOp) {
  EXPECT_TRUE(this->cache_->PutLatest({}).ok());
}

REGISTER_TYPED_TEST_SUITE_P(AggregateCacheContract, MissIsEmptyNotAnError,
                            KeepsTheWindowWithoutItsSketch, EntriesOnlyMoveForward,
                            FinalEntryIsKeptBesideANewerOpenOne, SizesAreSeparateEntries,
                            AWindowWithoutIdentityFailsTheCallAndWritesNothing,
                            ClearEmptiesTheCacheAndWritesStillWorkAfter, AnEmptyPutIsANoOp);

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_AGGREGATION_SERVICE_QUERY_AGGREGATE_CACHE_CONTRACT_H_
