// WatchQueue and WatchHub (see the header).
#include "aggregation-service/query/watch_hub.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace streammetrics::aggregation {

WatchAction WatchQueue::FinishLocked(absl::Status status) {
  finished_ = true;
  queue_.clear();
  return WatchAction{WatchAction::kFinish, nullptr, std::move(status)};
}

WatchAction WatchQueue::Offer(const v1::WindowAggregate& window) {
  absl::MutexLock lock(&mu_);
  if (finished_ || ending_.has_value()) return {};
  if (queue_.size() >= capacity_) {
    absl::Status exhausted = absl::ResourceExhaustedError(absl::StrCat(
        "this watcher fell ", capacity_,
        " windows behind and was cut off so it cannot slow the others: read the stream faster "
        "(or narrow the filter), then watch again and fill the gap with QueryAggregates"));
    WatchAction action;
    if (writing_) {
      // gRPC allows one write or the finish in flight, not both: the status follows the write,
      // which completes once the client reads again (or fails when it goes away). Until then
      // only that one window is held.
      ending_ = std::move(exhausted);
      while (queue_.size() > 1) queue_.pop_back();
    } else {
      action = FinishLocked(std::move(exhausted));
    }
    action.cut_off = true;
    return action;
  }
  queue_.push_back(window);
  if (writing_) return {};
  writing_ = true;
  return WatchAction{WatchAction::kWrite, &queue_.front(), absl::OkStatus()};
}

WatchAction WatchQueue::WriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (finished_) return {};
  if (!queue_.empty()) queue_.pop_front();
  if (!ok) return FinishLocked(absl::CancelledError("the client stopped reading the stream"));
  if (ending_.has_value()) return FinishLocked(*std::move(ending_));
  if (queue_.empty()) return {};
  writing_ = true;
  return WatchAction{WatchAction::kWrite, &queue_.front(), absl::OkStatus()};
}

WatchAction WatchQueue::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (finished_ || ending_.has_value()) return {};
  if (writing_) {
    ending_ = std::move(status);
    return {};
  }
  return FinishLocked(std::move(status));
}

size_t WatchQueue::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool WatchHub::Subscribe(const std::shared_ptr<Watcher>& watcher) {
  absl::MutexLock lock(&mu_);
  if (closed_ || watchers_.size() >= max_watchers_) return false;
  watchers_.insert(watcher);
  return true;
}

void WatchHub::Unsubscribe(const std::shared_ptr<Watcher>& watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

void WatchHub::Publish(const v1::WindowAggregate& published) {
  // Watchers get windows as QueryAggregates gives them by default: without the sketch, which is
  // most of a window's bytes.
  v1::WindowAggregate window = published;
  window.clear_sketch();
  std::vector<std::shared_ptr<Watcher>> matching;
  {
    absl::MutexLock lock(&mu_);
    ++published_;
    for (const std::shared_ptr<Watcher>& w : watchers_) {
      if (w->queue->filter().Matches(window)) matching.push_back(w);
    }
  }
  for (const std::shared_ptr<Watcher>& w : matching) {
    WatchAction action = w->queue->Offer(window);
    if (action.cut_off && metrics_ != nullptr) metrics_->WatcherExhausted();
    if (action.kind != WatchAction::kNone) w->execute(std::move(action));
  }
}

void WatchHub::Close() {
  std::vector<std::shared_ptr<Watcher>> all;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    all.assign(watchers_.begin(), watchers_.end());
  }
  for (const std::shared_ptr<Watcher>& w : all) {
    WatchAction action = w->queue->End(
        absl::UnavailableError("the aggregation service is shutting down: watch again (another "
                               "instance, or this one once it is back)"));
    if (action.kind != WatchAction::kNone) w->execute(std::move(action));
  }
}

size_t WatchHub::watchers() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size();
}

uint64_t WatchHub::published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

}  // namespace streammetrics::aggregation
