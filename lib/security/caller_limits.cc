// CallerSlots and CallerRateLimiter: see caller_limits.h.
#include "lib/security/caller_limits.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace streammetrics::security {

CallerSlots::Slot& CallerSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    caller_ = std::move(other.caller_);
  }
  return *this;
}

void CallerSlots::Slot::Release() {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)->Release(caller_);
}

CallerSlots::CallerSlots(std::string what, size_t total_limit, size_t per_caller_limit)
    : what_(std::move(what)), total_limit_(total_limit), per_caller_limit_(per_caller_limit) {}

absl::Status CallerSlots::Acquire(absl::string_view caller, Slot* slot, bool* caller_limit) {
  {
    absl::MutexLock lock(&mu_);
    if (caller_limit != nullptr) *caller_limit = false;
    if (total_limit_ > 0 && total_ >= total_limit_) {
      return absl::ResourceExhaustedError(absl::StrCat("this server already holds its limit of ",
                                                       total_limit_, " ", what_,
                                                       ": retry later, or on another instance"));
    }
    auto it = by_caller_.find(caller);
    if (per_caller_limit_ > 0 && it != by_caller_.end() && it->second >= per_caller_limit_) {
      if (caller_limit != nullptr) *caller_limit = true;
      return absl::ResourceExhaustedError(
          absl::StrCat("caller ", caller, " already holds its limit of ", per_caller_limit_, " ",
                       what_, ": close some before opening more"));
    }
    ++by_caller_[caller];
    ++total_;
  }
  *slot = Slot(this, std::string(caller));
  return absl::OkStatus();
}

void CallerSlots::Release(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  --total_;
  auto it = by_caller_.find(caller);
  if (--it->second == 0) by_caller_.erase(it);
}

size_t CallerSlots::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

size_t CallerSlots::held_by(absl::string_view caller) const {
  absl::MutexLock lock(&mu_);
  auto it = by_caller_.find(caller);
  return it == by_caller_.end() ? 0 : it->second;
}

CallerRateLimiter::CallerRateLimiter(double rate, double burst, const Clock* clock)
    : rate_(rate), burst_(std::max(burst, 1.0)), clock_(clock) {}

CallerRateLimiter::Bucket& CallerRateLimiter::RefillLocked(absl::string_view caller) {
  const absl::Time now = clock_->Now();
  auto [it, inserted] = buckets_.try_emplace(caller);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = burst_;
  } else {
    const double earned = absl::ToDoubleSeconds(now - b.updated) * rate_;
    b.tokens = std::min(burst_, b.tokens + std::max(earned, 0.0));
  }
  b.updated = now;
  return b;
}

absl::Duration CallerRateLimiter::WaitLocked(const Bucket& b) const {
  if (b.tokens >= 0) return absl::ZeroDuration();
  return absl::Seconds(-b.tokens / rate_);
}

absl::Duration CallerRateLimiter::Reserve(absl::string_view caller, double events) {
  if (rate_ <= 0) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  Bucket& b = RefillLocked(caller);
  b.tokens -= events;
  return WaitLocked(b);
}

absl::Duration CallerRateLimiter::Debt(absl::string_view caller) {
  if (rate_ <= 0) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  return WaitLocked(RefillLocked(caller));
}

}  // namespace streammetrics::security
