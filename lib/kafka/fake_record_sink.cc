// See fake_record_sink.h. The completion thread is what makes `done` run off the caller's thread.
#include "lib/kafka/fake_record_sink.h"

#include "absl/strings/str_cat.h"

namespace streammetrics::kafka {

FakeRecordSink::FakeRecordSink(bool auto_complete)
    : auto_complete_(auto_complete), thread_([this] { Run(); }) {}

FakeRecordSink::~FakeRecordSink() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void FakeRecordSink::SendBatch(std::vector<Record> records, BatchDeliveredCallback done) {
  std::function<void()> on_send;
  {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
    pending_.push_back({std::move(records), std::move(done)});
    if (auto_complete_) {
      mu_.Unlock();
      CompleteOldest();
      mu_.Lock();
    }
    on_send = on_send_;
  }
  if (on_send) on_send();
}

void FakeRecordSink::SetOnSend(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  on_send_ = std::move(hook);
}

absl::Status FakeRecordSink::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_ == 0; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&drained), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(outstanding_, " batches still outstanding"));
  }
  return absl::OkStatus();
}

size_t FakeRecordSink::PendingBatches() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

bool FakeRecordSink::AwaitPending(size_t n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

bool FakeRecordSink::CompleteOldest(const std::function<absl::Status(size_t)>& status_of) {
  absl::MutexLock lock(&mu_);
  if (pending_.empty()) return false;
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  std::vector<absl::Status> results(p.records.size());
  for (size_t i = 0; i < p.records.size(); ++i) {
    if (status_of) results[i] = status_of(i);
    if (results[i].ok()) delivered_.push_back(p.records[i]);
  }
  completions_.push_back({std::move(p.done), std::move(results)});
  return true;
}

void FakeRecordSink::CompleteAll() {
  while (CompleteOldest()) {
  }
}

void FakeRecordSink::SetAutoComplete(bool on) {
  {
    absl::MutexLock lock(&mu_);
    auto_complete_ = on;
  }
  if (on) CompleteAll();
}

std::vector<Record> FakeRecordSink::Delivered() const {
  absl::MutexLock lock(&mu_);
  return delivered_;
}

void FakeRecordSink::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !completions_.empty(); };
    mu_.Await(absl::Condition(&ready));
    if (completions_.empty()) return;  // stop_ with nothing left to deliver
    Completion c = std::move(completions_.front());
    completions_.pop_front();
    mu_.Unlock();
    c.done(std::move(c.results));
    mu_.Lock();
    --outstanding_;
  }
}

}  // namespace streammetrics::kafka
