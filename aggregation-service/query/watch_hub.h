// WatchHub: fans final windows out to WatchAggregates streams, each through a bounded queue, so a
// slow watcher never slows the feed or the other watchers: when its queue is full it is cut off
// with RESOURCE_EXHAUSTED (what it missed is unknown, so it must not silently carry on).
//
// WatchQueue is the whole state machine of one stream, pure and lock-protected, so the gRPC
// reactor around it only carries out what each call returns: it never calls gRPC under the lock,
// never has two operations in flight (a write, or the finish, which gRPC counts as a final write:
// https://grpc.io/docs/languages/cpp/best_practices/), and finishes exactly once. A watcher cut
// off while a write is in flight (a client that stopped reading) keeps only that window; its
// status follows once the client reads again, or its stream fails when the client goes away.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_WATCH_HUB_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_WATCH_HUB_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "aggregation-service/query/query_metrics.h"
#include "aggregation-service/query/query_requests.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

// What the reactor must do next.
struct WatchAction {
  enum Kind {
    kNone,
    // StartWrite(*write): the message stays valid until the matching WriteDone.
    kWrite,
    // Finish(status).
    kFinish,
  };
  Kind kind = kNone;
  const v1::WindowAggregate* write = nullptr;
  absl::Status status;
  // This Offer cut the watcher off (RESOURCE_EXHAUSTED now or after the write in flight): to be
  // counted once, when it happens (by the hub: with kNone, the reactor may already be gone).
  bool cut_off = false;
};

class WatchQueue {
 public:
  WatchQueue(WatchFilter filter, size_t capacity)
      : filter_(std::move(filter)), capacity_(capacity) {}

  const WatchFilter& filter() const { return filter_; }

  // A window for this watcher (the hub checked the filter). Queues it, or, when `capacity`
  // windows already wait, cuts the watcher off: its stream ends with RESOURCE_EXHAUSTED, at once
  // or after the write in flight. Nothing once finished or cut off.
  WatchAction Offer(const v1::WindowAggregate& window);
  // The write in flight completed (`ok`: it reached the transport). Starts the next, finishes a
  // stream ended meanwhile, or goes idle. A failed write ends the stream (the client is gone).
  WatchAction WriteDone(bool ok);
  // The client cancelled or the server is shutting down: ends with `status` (now, or after the
  // write in flight). Nothing if already ending.
  WatchAction End(absl::Status status);

  // Windows waiting (the one in flight included).
  size_t queued() const;

 private:
  WatchAction FinishLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WatchFilter filter_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<v1::WindowAggregate> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Set when the stream must end once the write in flight completes.
  std::optional<absl::Status> ending_ ABSL_GUARDED_BY(mu_);
};

// A watcher as the hub sees it: its queue, and what to do with an action the hub's Publish or
// Close produced for it (the reactor's Execute). The hub calls `execute` outside its own lock and
// only for kWrite and kFinish. That is safe against the reactor's deletion without further
// locking: the reactor is deleted in gRPC's OnDone, which follows Finish, which follows the
// queue's one and only kFinish; once a queue returned kFinish it returns only kNone, and while a
// write is handed out (until its WriteDone) it never returns kFinish, so a kWrite is always
// carried out before the reactor can go.
struct Watcher {
  std::shared_ptr<WatchQueue> queue;
  std::function<void(WatchAction)> execute;
};

class WatchHub {
 public:
  // Adds a watcher; returns false (and adds nothing) when `max_watchers` are already watching or
  // the hub is closed.
  bool Subscribe(const std::shared_ptr<Watcher>& watcher);
  // Removes it (the reactor's OnDone).
  void Unsubscribe(const std::shared_ptr<Watcher>& watcher);

  // Offers `window` (without its sketch) to every watcher whose filter matches. Never blocks on
  // a watcher.
  void Publish(const v1::WindowAggregate& window);
  // Ends every stream with UNAVAILABLE (server shutting down) and refuses new ones.
  void Close();

  // `metrics` (may be null) counts the watchers cut off, when it happens (the stream itself may
  // end later, after the write in flight).
  explicit WatchHub(size_t max_watchers = 100, QueryMetrics* metrics = nullptr)
      : max_watchers_(max_watchers), metrics_(metrics) {}
  size_t watchers() const;
  // Windows published (not per watcher).
  uint64_t published() const;

 private:
  const size_t max_watchers_;
  QueryMetrics* const metrics_;
  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_WATCH_HUB_H_
