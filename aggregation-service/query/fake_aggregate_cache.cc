#include "aggregation-service/query/fake_aggregate_cache.h"

#include "absl/strings/str_cat.h"

namespace streammetrics::aggregation {
namespace {

absl::Status CheckWindowId(absl::string_view series_key, v1::WindowSize size) {
  if (series_key.empty()) return absl::InvalidArgumentError("window without a series_key");
  if (size != v1::WINDOW_SIZE_1M && size != v1::WINDOW_SIZE_5M) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window of series ", series_key, " has window size ", size, ", neither 1m nor 5m"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FakeAggregateCache::PutLatest(const std::vector<v1::WindowAggregate>& windows) {
  absl::MutexLock lock(&mu_);
  ++put_calls_;
  if (blocked_) {
    ++blocked_puts_;
    mu_.Await(absl::Condition(
        +[](bool* blocked) { return !*blocked; }, &blocked_));
    --blocked_puts_;
  }
  if (!available_) return absl::UnavailableError("fake cache unavailable");
  for (const v1::WindowAggregate& w : windows) {
    if (absl::Status s = CheckWindowId(w.series_key(), w.window_size()); !s.ok()) return s;
  }
  for (const v1::WindowAggregate& w : windows) {
    PutOne(Key(false, w.series_key(), w.window_size()), w);
    if (w.is_final()) PutOne(Key(true, w.series_key(), w.window_size()), w);
  }
  windows_put_ += windows.size();
  return absl::OkStatus();
}

void FakeAggregateCache::PutOne(const Key& key, const v1::WindowAggregate& window) {
  auto it = entries_.find(key);
  if (it != entries_.end() && !NewerForCache(window, it->second)) return;
  v1::WindowAggregate& stored = entries_[key];
  stored = window;
  stored.clear_sketch();
}

absl::StatusOr<std::optional<v1::WindowAggregate>> FakeAggregateCache::GetLatest(
    absl::string_view series_key, v1::WindowSize window_size, bool final_only) {
  absl::MutexLock lock(&mu_);
  ++get_calls_;
  if (!available_) return absl::UnavailableError("fake cache unavailable");
  if (absl::Status s = CheckWindowId(series_key, window_size); !s.ok()) return s;
  auto it = entries_.find(Key(final_only, std::string(series_key), window_size));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void FakeAggregateCache::SetAvailable(bool available) {
  absl::MutexLock lock(&mu_);
  available_ = available;
}

void FakeAggregateCache::BlockPuts(bool blocked) {
  absl::MutexLock lock(&mu_);
  blocked_ = blocked;
}

bool FakeAggregateCache::AwaitBlockedPuts(int calls, absl::Duration timeout) const {
  struct Args {
    const int* blocked;
    int calls;
  } args{&blocked_puts_, calls};
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](Args* a) { return *a->blocked >= a->calls; }, &args),
                              timeout);
}

std::optional<v1::WindowAggregate> FakeAggregateCache::Peek(const std::string& series_key,
                                                            v1::WindowSize window_size,
                                                            bool final_only) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key(final_only, series_key, window_size));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

size_t FakeAggregateCache::entries() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

uint64_t FakeAggregateCache::put_calls() const {
  absl::MutexLock lock(&mu_);
  return put_calls_;
}

absl::Status FakeAggregateCache::Clear() {
  absl::MutexLock lock(&mu_);
  ++clear_calls_;
  if (!available_) return absl::UnavailableError("fake cache unavailable");
  entries_.clear();
  return absl::OkStatus();
}

uint64_t FakeAggregateCache::clear_calls() const {
  absl::MutexLock lock(&mu_);
  return clear_calls_;
}

uint64_t FakeAggregateCache::get_calls() const {
  absl::MutexLock lock(&mu_);
  return get_calls_;
}

uint64_t FakeAggregateCache::windows_put() const {
  absl::MutexLock lock(&mu_);
  return windows_put_;
}

}  // namespace streammetrics::aggregation
