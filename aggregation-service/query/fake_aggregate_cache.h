// FakeAggregateCache: an in-memory AggregateCache for unit tests, with RedisAggregateCache's rules
// (entries only move forward by (window start, revision), windows kept without their sketch, the
// same InvalidArgument checks), and knobs to make it unreachable or hold PutLatest calls in flight.
//
// Thread-safe, so a test may inspect and steer it while another thread (a CacheWriter) calls it.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_FAKE_AGGREGATE_CACHE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_FAKE_AGGREGATE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/query/aggregate_cache.h"

namespace streammetrics::aggregation {

class FakeAggregateCache final : public AggregateCache {
 public:
  // See AggregateCache. While unavailable, fails with Unavailable and writes nothing. While puts
  // are blocked, waits until they are unblocked, then checks availability.
  absl::Status PutLatest(const std::vector<v1::WindowAggregate>& windows) override;
  // See AggregateCache. While unavailable, fails with Unavailable and deletes nothing.
  absl::Status Clear() override;
  // See AggregateCache. While unavailable, fails with Unavailable.
  absl::StatusOr<std::optional<v1::WindowAggregate>> GetLatest(absl::string_view series_key,
                                                               v1::WindowSize window_size,
                                                               bool final_only) override;

  // Test knobs.

  // false: every call fails with Unavailable until set back to true. Default true.
  void SetAvailable(bool available);
  // true: PutLatest calls wait (each counted first) until it is set back to false.
  void BlockPuts(bool blocked);
  // Waits up to `timeout` until at least `calls` PutLatest calls wait in BlockPuts. True if so.
  bool AwaitBlockedPuts(int calls, absl::Duration timeout) const;

  // Inspection (does not count as a call).

  // The entry GetLatest would return, if any.
  std::optional<v1::WindowAggregate> Peek(const std::string& series_key, v1::WindowSize window_size,
                                          bool final_only) const;
  // Entries held, latest and final ones.
  size_t entries() const;
  // Calls so far, failed ones included.
  uint64_t put_calls() const;
  uint64_t get_calls() const;
  uint64_t clear_calls() const;
  // Windows in PutLatest calls that succeeded (whether or not they replaced an entry).
  uint64_t windows_put() const;

 private:
  // (final_only, series_key, window_size)
  using Key = std::tuple<bool, std::string, v1::WindowSize>;
  // Stores `window` under `key` unless the entry there is at least as new.
  void PutOne(const Key& key, const v1::WindowAggregate& window) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<Key, v1::WindowAggregate> entries_ ABSL_GUARDED_BY(mu_);
  bool available_ ABSL_GUARDED_BY(mu_) = true;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  int blocked_puts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t put_calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t get_calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t clear_calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t windows_put_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_FAKE_AGGREGATE_CACHE_H_
