#include "ingest-service/byte_budget.h"

#include <utility>

namespace streammetrics::ingest {

void ByteBudget::Acquire(size_t bytes) {
  absl::MutexLock lock(&mu_);
  used_ += bytes;
}

void ByteBudget::Release(size_t bytes) {
  std::vector<std::function<void()>> wake;
  {
    absl::MutexLock lock(&mu_);
    used_ = bytes > used_ ? 0 : used_ - bytes;
    if (used_ < limit_) wake.swap(waiters_);
  }
  for (auto& fn : wake) fn();
}

bool ByteBudget::HasRoom() const {
  absl::MutexLock lock(&mu_);
  return used_ < limit_;
}

size_t ByteBudget::used() const {
  absl::MutexLock lock(&mu_);
  return used_;
}

bool ByteBudget::CallWhenRoom(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  if (used_ < limit_) return false;
  waiters_.push_back(std::move(wake));
  return true;
}

size_t ByteBudget::waiters() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace streammetrics::ingest
