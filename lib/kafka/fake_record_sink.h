// FakeRecordSink: an in-memory RecordSink for unit tests. Batches wait in memory until the test
// completes them (all OK, or with chosen failures), so tests control delivery order and timing
// exactly, like a slow or failing Kafka. Completion runs on a thread of the fake's own, as the real
// sink's delivery thread does, so reactors see the same threading.
#ifndef STREAMMETRICS_LIB_KAFKA_FAKE_RECORD_SINK_H_
#define STREAMMETRICS_LIB_KAFKA_FAKE_RECORD_SINK_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::kafka {

class FakeRecordSink final : public RecordSink {
 public:
  // With auto_complete, every batch is delivered successfully as soon as it is sent.
  explicit FakeRecordSink(bool auto_complete = false);
  ~FakeRecordSink() override;

  void SendBatch(std::vector<Record> records, BatchDeliveredCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;

  // Batches sent and not yet completed.
  size_t PendingBatches() const;
  // Waits until at least `n` batches are pending; false on timeout.
  bool AwaitPending(size_t n, absl::Duration timeout) const;
  // Completes the oldest pending batch. `fail(i)` returns the status of record i (OK by default).
  // Returns false when nothing is pending.
  bool CompleteOldest(const std::function<absl::Status(size_t)>& status_of = nullptr);
  // Completes every pending batch successfully.
  void CompleteAll();
  void SetAutoComplete(bool on);
  // Runs `hook` at the end of every SendBatch, on the caller's thread (the sender is blocked
  // meanwhile), to stage what happens while a batch is being handed over.
  void SetOnSend(std::function<void()> hook);

  // Every record whose delivery succeeded, in completion order.
  std::vector<Record> Delivered() const;

 private:
  struct Pending {
    std::vector<Record> records;
    BatchDeliveredCallback done;
  };
  struct Completion {
    BatchDeliveredCallback done;
    std::vector<absl::Status> results;
  };
  void Run();

  mutable absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<Completion> completions_ ABSL_GUARDED_BY(mu_);
  std::vector<Record> delivered_ ABSL_GUARDED_BY(mu_);
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool auto_complete_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_send_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_FAKE_RECORD_SINK_H_
