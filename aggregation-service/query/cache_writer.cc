#include "aggregation-service/query/cache_writer.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "lib/common/log.h"

namespace streammetrics::aggregation {
namespace {

bool SameWindow(const v1::WindowAggregate& a, const v1::WindowAggregate& b) {
  return !NewerForCache(a, b) && !NewerForCache(b, a);
}

}  // namespace

CacheWriter::CacheWriter(AggregateCache* cache, CacheWriterOptions options, const Clock* clock)
    : cache_(cache),
      options_(options),
      clock_(clock),
      backoff_(BackoffOptions{.initial = options.initial_backoff,
                              .max = options.max_backoff,
                              .multiplier = 2.0,
                              .jitter = 0.0},
               clock) {
  thread_ = std::thread([this] { Run(); });
}

CacheWriter::~CacheWriter() { Stop(); }

void CacheWriter::Offer(std::vector<v1::WindowAggregate> windows) {
  // Trimmed before taking the lock, so the writer thread's merges wait only for the merge below.
  std::vector<v1::WindowAggregate> copies;
  copies.reserve(windows.size());
  for (v1::WindowAggregate& w : windows) {
    if (w.series_key().empty() ||
        (w.window_size() != v1::WINDOW_SIZE_1M && w.window_size() != v1::WINDOW_SIZE_5M)) {
      continue;
    }
    w.clear_sketch();
    copies.push_back(std::move(w));
  }
  if (copies.empty()) return;
  absl::MutexLock lock(&mu_);
  for (v1::WindowAggregate& w : copies) Merge(std::move(w));
  if (pending_.size() > options_.max_pending) DropPending("over max_pending");
  work_cv_.Signal();
}

void CacheWriter::DropPending(absl::string_view why) {
  SM_LOG(Warn, "cache_writes_dropped")
      .Kv("entries", pending_.size())
      .Kv("why", why)
      .Kv("consequence", "the cache is cleared once Redis answers; reads use PostgreSQL meanwhile");
  dropped_ += pending_.size();
  pending_.clear();
  must_clear_ = true;
}

void CacheWriter::Merge(v1::WindowAggregate window) {
  if (window.is_final()) {
    auto [it, inserted] =
        pending_.try_emplace(EntryKey(window.series_key(), window.window_size(), true), window);
    if (!inserted && NewerForCache(window, it->second)) it->second = window;
  }
  auto [it, inserted] = pending_.try_emplace(
      EntryKey(window.series_key(), window.window_size(), false), std::move(window));
  // try_emplace moves only when it inserts, so `window` is intact otherwise.
  if (!inserted && NewerForCache(window, it->second)) it->second = std::move(window);
}

std::vector<v1::WindowAggregate> CacheWriter::Windows(Entries batch) {
  // Chosen first and moved after, so no lookup sees a window already moved away.
  std::vector<v1::WindowAggregate*> chosen;
  chosen.reserve(batch.size());
  for (auto& [key, window] : batch) {
    if (std::get<2>(key)) {
      auto latest = batch.find(EntryKey(std::get<0>(key), std::get<1>(key), false));
      if (latest != batch.end() && SameWindow(latest->second, window)) continue;
    }
    chosen.push_back(&window);
  }
  std::vector<v1::WindowAggregate> windows;
  windows.reserve(chosen.size());
  for (v1::WindowAggregate* w : chosen) windows.push_back(std::move(*w));
  return windows;
}

void CacheWriter::Run() {
  while (true) {
    Entries batch;
    bool last;
    bool clear;
    {
      absl::MutexLock lock(&mu_);
      const auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return pending_.empty() && !must_clear_;
      };
      while (!stop_ && (idle() || (!try_now_ && clock_->Now() < next_attempt_))) {
        // Woken by offers, Flush and Stop, or when the backoff ends on the clock.
        clock_->WaitWithDeadline(&work_cv_, &mu_, idle() ? absl::InfiniteFuture() : next_attempt_);
      }
      if (idle()) return;  // stopped with nothing left to do
      last = stop_;
      try_now_ = false;
      clear = std::exchange(must_clear_, false);
      batch.swap(pending_);
      in_flight_ = batch.size();
    }

    std::vector<v1::WindowAggregate> windows = Windows(std::move(batch));
    absl::Status status = clear ? cache_->Clear() : absl::OkStatus();
    if (status.ok() && !windows.empty()) status = cache_->PutLatest(windows);

    bool first_failure = false;
    uint64_t failed_before = 0;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = 0;
      if (status.ok()) {
        written_ += windows.size();
        failed_before = std::exchange(consecutive_failures_, 0);
        backoff_.Reset();
        next_attempt_ = absl::InfinitePast();
      } else {
        ++failures_;
        first_failure = ++consecutive_failures_ == 1;
        // Unavailable may pass (Redis comes back); anything else would fail again the same way,
        // so that batch is dropped rather than retried forever, and the cache cleared (its
        // entries for these windows would stay older than PostgreSQL's).
        must_clear_ = must_clear_ || clear;
        for (v1::WindowAggregate& w : windows) Merge(std::move(w));
        if (!absl::IsUnavailable(status)) DropPending(status.message());
        next_attempt_ = backoff_.Failed();
      }
      attempt_cv_.SignalAll();
    }
    // Logged once per outage, not once per retry.
    if (first_failure) {
      SM_LOG(Warn, "cache_write_failed")
          .Kv("error", status.ToString())
          .Kv("windows", windows.size())
          .Kv("retried", absl::IsUnavailable(status));
    } else if (failed_before > 0) {
      SM_LOG(Info, "cache_write_recovered").Kv("failed_attempts", failed_before);
    }
    if (last) return;
  }
}

bool CacheWriter::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  try_now_ = true;
  work_cv_.Signal();
  while (!pending_.empty() || in_flight_ > 0) {
    if (attempt_cv_.WaitWithDeadline(&mu_, deadline)) break;  // timed out
  }
  return pending_.empty() && in_flight_ == 0;
}

void CacheWriter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    work_cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

size_t CacheWriter::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size() + in_flight_;
}

uint64_t CacheWriter::written() const {
  absl::MutexLock lock(&mu_);
  return written_;
}

uint64_t CacheWriter::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

uint64_t CacheWriter::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

}  // namespace streammetrics::aggregation
