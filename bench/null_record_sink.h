// NullRecordSink: a RecordSink that reports every record delivered at once and keeps nothing, for
// measuring what the ingest service costs without Kafka (ingest_bench --mode=serve-null). Bench
// only: a service built with it acknowledges data it throws away.
#ifndef STREAMMETRICS_BENCH_NULL_RECORD_SINK_H_
#define STREAMMETRICS_BENCH_NULL_RECORD_SINK_H_

#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::bench {

class NullRecordSink final : public kafka::RecordSink {
 public:
  // `done` callbacks run on one thread of the sink's, as the contract asks (never inside
  // SendBatch).
  NullRecordSink() : thread_([this] { Run(); }) {}
  ~NullRecordSink() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  void SendBatch(std::vector<kafka::Record> records, kafka::BatchDeliveredCallback done) override {
    absl::MutexLock lock(&mu_);
    queue_.emplace_back(records.size(), std::move(done));
  }

  absl::Status Flush(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && idle_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&empty), timeout)) return absl::OkStatus();
    return absl::DeadlineExceededError("null sink: batches still queued");
  }

 private:
  void Run() {
    absl::MutexLock lock(&mu_);
    while (true) {
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping
      auto [count, done] = std::move(queue_.front());
      queue_.pop_front();
      idle_ = false;
      mu_.Unlock();
      done(std::vector<absl::Status>(count, absl::OkStatus()));
      mu_.Lock();
      idle_ = true;
    }
  }

  absl::Mutex mu_;
  std::deque<std::pair<size_t, kafka::BatchDeliveredCallback>> queue_ ABSL_GUARDED_BY(mu_);
  bool idle_ ABSL_GUARDED_BY(mu_) = true;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace streammetrics::bench

#endif  // STREAMMETRICS_BENCH_NULL_RECORD_SINK_H_
