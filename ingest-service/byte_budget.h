// ByteBudget: the process-wide bound on bytes in flight (read from clients, not yet confirmed by
// Kafka). Streams stop reading while the budget is spent, so gRPC flow control slows clients and
// memory stays flat when Kafka is slow or down (docs/contract.md §5, backpressure).
//
// A stream charges a batch after reading it, so usage may exceed the limit by at most one batch
// per stream; refusing to read until there is room is what bounds it.
#ifndef STREAMMETRICS_INGEST_SERVICE_BYTE_BUDGET_H_
#define STREAMMETRICS_INGEST_SERVICE_BYTE_BUDGET_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace streammetrics::ingest {

class ByteBudget {
 public:
  explicit ByteBudget(size_t limit) : limit_(limit) {}

  void Acquire(size_t bytes);
  // Returns bytes; when usage drops below the limit, runs every waiter registered by
  // CallWhenRoom, on this thread, outside the budget's lock.
  void Release(size_t bytes);

  // True while usage is below the limit.
  bool HasRoom() const;
  size_t used() const;
  size_t limit() const { return limit_; }

  // If there is room now, returns false and does nothing; otherwise registers `wake` to run once
  // when there is room and returns true. `wake` must tolerate its target being gone (capture a
  // weak_ptr): waiters are never unregistered.
  bool CallWhenRoom(std::function<void()> wake);

  // Waiters registered and not yet run.
  size_t waiters() const;

 private:
  const size_t limit_;
  mutable absl::Mutex mu_;
  size_t used_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::function<void()>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_BYTE_BUDGET_H_
