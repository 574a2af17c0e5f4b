// QueryWorkers: the threads QueryService runs its queries on. gRPC's callback API wants reactions
// that never block, and a query blocks on PostgreSQL, so each unary call is handed to one of these
// threads and finished from there. The queue is bounded: when it is full the call is refused
// (RESOURCE_EXHAUSTED) instead of piling up behind a slow database.
//
// Hand-written because neither Abseil 20220623 nor gRPC 1.51's public API offers a thread pool;
// it is a mutex, a condition variable and a deque.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_WORKERS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_WORKERS_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace streammetrics::aggregation {

class QueryWorkers {
 public:
  // Starts `threads` threads; at most `max_queued` tasks wait beyond those running.
  QueryWorkers(size_t threads, size_t max_queued);
  // Runs every task already queued, then joins the threads.
  ~QueryWorkers();
  QueryWorkers(const QueryWorkers&) = delete;
  QueryWorkers& operator=(const QueryWorkers&) = delete;

  // Queues `task`; false (and `task` is not run) when the queue is full or shutting down.
  bool Submit(std::function<void()> task);

  size_t queued() const;

 private:
  void Loop();

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_WORKERS_H_
