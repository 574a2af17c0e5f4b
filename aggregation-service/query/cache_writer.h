// CacheWriter: puts committed windows into the AggregateCache off the aggregator's commit path, so
// a slow or absent Redis never delays a checkpoint.
//
// The consume loop Offers the windows of each checkpoint once it has committed (handing them
// over: the checkpoint is done with them). Offer only moves them (without their sketches) into a
// pending map that keeps, per (series, size, latest|final), the newest window by (start, revision),
// and returns. A background thread takes the whole map and writes it with one PutLatest. When that
// fails the entries go back into the map (merged with those offered meanwhile, the newest kept) and
// the write is retried after a backoff, so once Redis is back the cache catches up with everything
// committed while it was away, and never receives a window older than one it already had (the
// cache's forward-only rule makes even that harmless).
//
// The pending map holds at most two entries per series and size (latest and final), but while
// Redis is down for long, series that come and go (pod or instance tags) keep adding entries. So
// it is capped (max_pending): beyond it, and when Redis refuses a batch for good, the writer drops
// what is pending and clears the cache before its next write, because an entry it would have
// replaced would otherwise stay older than PostgreSQL's. Reads miss and use PostgreSQL meanwhile.
//
// Thread-safe.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_CACHE_WRITER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_CACHE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/query/aggregate_cache.h"
#include "lib/common/backoff.h"
#include "lib/common/clock.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

struct CacheWriterOptions {
  // Wait before retrying after a failed write; doubles with each further failure, up to
  // max_backoff, and starts over after a success. Default 250 ms.
  absl::Duration initial_backoff = absl::Milliseconds(250);
  // Longest wait between retries, so a recovered Redis is caught up with within about this long.
  // Default 5 s.
  absl::Duration max_backoff = absl::Seconds(5);
  // Most entries kept waiting (two per series and size at most). Beyond it, while Redis is down
  // for long and series come and go, the writer drops them all and clears the cache once it
  // answers again, rather than grow without bound or leave entries older than PostgreSQL's.
  // Default 1,000,000 (~300 MB of windows without sketches).
  size_t max_pending = 1'000'000;
};

class CacheWriter {
 public:
  // Starts the writer thread. `cache` and `clock` (which times the backoffs) must outlive the
  // writer.
  explicit CacheWriter(AggregateCache* cache, CacheWriterOptions options = {},
                       const Clock* clock = RealClock::Get());
  // Stop().
  ~CacheWriter();
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  // Queues committed windows for the cache: O(windows), blocks only on the writer's mutex (never
  // on the cache). Windows without a series key or a 1m/5m size are skipped: the cache would
  // refuse the whole batch for them. After Stop, offered windows are kept but never written.
  void Offer(std::vector<v1::WindowAggregate> windows);

  // Makes the writer try at once (skipping a backoff under way) and waits up to `timeout` until
  // nothing is pending or in flight. True if so. For tests and shutdown.
  bool Flush(absl::Duration timeout);

  // Makes one last attempt to write what is pending (skipping a backoff under way), then stops
  // the thread. What that attempt could not write is left pending. Idempotent.
  void Stop();

  // Entries waiting to be written, those in flight included.
  size_t pending() const;
  // Windows the cache accepted (a final window that is also its series' newest counts once).
  uint64_t written() const;
  // PutLatest (or Clear) calls that failed.
  uint64_t failures() const;
  // Entries dropped unwritten (over max_pending, or refused for good), each followed by a Clear.
  uint64_t dropped() const;

 private:
  // (series_key, window_size, final): the newest window, or the newest final one.
  using EntryKey = std::tuple<std::string, v1::WindowSize, bool>;
  using Entries = absl::flat_hash_map<EntryKey, v1::WindowAggregate>;

  void Run();
  // Puts `window` into pending_ as its series' latest entry, and as its final entry when it is
  // final, unless the entries already there are at least as new.
  void Merge(v1::WindowAggregate window) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets every pending entry and asks for a Clear before the next write.
  void DropPending(absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The windows to write for `batch`: every entry, except a final entry whose window is also its
  // series' latest entry (writing that one sets both keys). Merging them back gives `batch` again.
  static std::vector<v1::WindowAggregate> Windows(Entries batch);

  AggregateCache* const cache_;
  const CacheWriterOptions options_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  // Wakes the thread: offers, Flush, Stop.
  absl::CondVar work_cv_;
  // Wakes Flush: an attempt ended.
  absl::CondVar attempt_cv_;
  Entries pending_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // No attempt before this (the backoff after a failure); InfinitePast when none is under way.
  absl::Time next_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Exact doubling (no jitter): one writer per process, nothing to spread out.
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  bool try_now_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  // Windows were dropped unwritten: the cache must be cleared before the next write.
  bool must_clear_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread thread_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_CACHE_WRITER_H_
