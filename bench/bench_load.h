// What ingest_bench's load modes share: acked counts and per-call latencies over all streams,
// and the window of calls one stream keeps in flight.
#ifndef STREAMMETRICS_BENCH_BENCH_LOAD_H_
#define STREAMMETRICS_BENCH_BENCH_LOAD_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace streammetrics::bench {

// Acked events (or points) and per-call ack latencies, shared by all streams.
struct Results {
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> failed{0};
  absl::Mutex mu;
  std::vector<double> latencies_ms ABSL_GUARDED_BY(mu);
  void Ack(uint64_t events, bool ok, absl::Duration latency) {
    (ok ? acked : failed).fetch_add(events);
    absl::MutexLock lock(&mu);
    latencies_ms.push_back(absl::ToDoubleMilliseconds(latency));
  }
};

// Counts free window slots; the sender waits for one before sending the next call.
class Window {
 public:
  explicit Window(int64_t size) : free_(size), size_(size) {}
  bool Acquire(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return free_ > 0; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) return false;
    --free_;
    return true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++free_;
  }
  // Waits until every slot is free again (every call answered).
  void Drain() {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return free_ == size_; };
    mu_.Await(absl::Condition(&idle));
  }

 private:
  absl::Mutex mu_;
  int64_t free_ ABSL_GUARDED_BY(mu_);
  const int64_t size_;
};

}  // namespace streammetrics::bench

#endif  // STREAMMETRICS_BENCH_BENCH_LOAD_H_
