// Per-caller limits, pure code on an injected Clock:
//   CallerSlots       — things a caller holds open (ingest streams, watchers, queued queries),
//                       capped in total and per caller, so one caller cannot take them all.
//   CallerRateLimiter — a token bucket of events per second per caller.
// A caller is the name a call was admitted under (CallGuard): a token's name, a client
// certificate's common name, or "anonymous".
#ifndef STREAMMETRICS_LIB_SECURITY_CALLER_LIMITS_H_
#define STREAMMETRICS_LIB_SECURITY_CALLER_LIMITS_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/common/clock.h"

namespace streammetrics::security {

class CallerSlots {
 public:
  // A slot held; released by Release or the destructor. Movable, not copyable.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept { *this = std::move(other); }
    Slot& operator=(Slot&& other) noexcept;
    ~Slot() { Release(); }
    void Release();
    bool held() const { return owner_ != nullptr; }

   private:
    friend class CallerSlots;
    Slot(CallerSlots* owner, std::string caller) : owner_(owner), caller_(std::move(caller)) {}
    CallerSlots* owner_ = nullptr;
    std::string caller_;
  };

  // `what` names the slots in errors ("ingest streams"). A limit of 0 means no limit.
  CallerSlots(std::string what, size_t total_limit, size_t per_caller_limit);

  // On success a held slot. Fails with ResourceExhausted naming the limit that was reached;
  // `caller_limit`, when not null, is then set to whether it was the per-caller one.
  absl::Status Acquire(absl::string_view caller, Slot* slot, bool* caller_limit = nullptr);

  size_t total() const;
  size_t held_by(absl::string_view caller) const;

 private:
  void Release(const std::string& caller);

  const std::string what_;
  const size_t total_limit_;
  const size_t per_caller_limit_;
  mutable absl::Mutex mu_;
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, size_t> by_caller_ ABSL_GUARDED_BY(mu_);
};

// Token bucket per caller: `rate` events per second, up to `burst` saved up. Reserve takes what a
// batch needs even when the bucket is short, and returns how long the caller must wait before
// its next batch so that, over time, it gets `rate` and no more. Waiting instead of refusing:
// a refused batch on a stream would end the stream and make the client resend everything unacked.
class CallerRateLimiter {
 public:
  // rate <= 0: no limit (Reserve always returns zero).
  CallerRateLimiter(double rate, double burst, const Clock* clock);

  // Takes `events` from the caller's bucket; returns how long until the bucket is out of debt
  // (zero when it is not in debt).
  absl::Duration Reserve(absl::string_view caller, double events);
  // How long until the caller's bucket is out of debt, without taking anything.
  absl::Duration Debt(absl::string_view caller);

  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  Bucket& RefillLocked(absl::string_view caller) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration WaitLocked(const Bucket& b) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double rate_;
  const double burst_;
  const Clock* const clock_;
  absl::Mutex mu_;
  // One entry per caller ever seen: callers are names from the tokens file (or certificate
  // names), a set an operator controls, so the map does not grow with hostile input.
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_CALLER_LIMITS_H_
