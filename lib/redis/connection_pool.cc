// ConnectionPool: see connection_pool.h.
#include "lib/redis/connection_pool.h"

#include <poll.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/common/log.h"

namespace streammetrics::redis {
namespace {

// True when an idle connection is still open: nothing to read on it. A peer that closed it (a
// Redis restart, a client timeout) makes it readable (end of file), which poll reports at once.
bool IdleConnectionOpen(const redisContext* c) {
  pollfd p{c->fd, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

}  // namespace

Reply NextReply(redisContext* c) {
  void* reply = nullptr;
  if (redisGetReply(c, &reply) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(reply));
}

std::string ContextError(const redisContext* c) {
  return c == nullptr ? std::string("cannot allocate a connection") : std::string(c->errstr);
}

absl::Status CheckPoolConfig(const PoolConfig& config) {
  if (config.host.empty()) return absl::InvalidArgumentError("Redis host is empty");
  if (config.port < 1 || config.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("Redis port ", config.port, " not in 1..65535"));
  }
  const std::pair<const char*, absl::Duration> durations[] = {
      {"connect_timeout", config.connect_timeout},
      {"command_timeout", config.command_timeout},
      {"retry_after", config.retry_after},
  };
  for (const auto& [name, d] : durations) {
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Redis ", name, " must be positive and finite, is ", absl::FormatDuration(d)));
    }
  }
  if (config.max_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis max_connections must be at least 1, is ", config.max_connections));
  }
  return absl::OkStatus();
}

ConnectionPool::Lease::Lease(ConnectionPool* pool, Context context, bool pooled)
    : pool_(pool), context_(std::move(context)), pooled_(pooled) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      context_(std::move(other.context_)),
      pooled_(other.pooled_) {}

ConnectionPool::Lease::~Lease() { Finish(Outcome::kAbandoned, ""); }

void ConnectionPool::Lease::Answered() { Finish(Outcome::kAnswered, ""); }

absl::Status ConnectionPool::Lease::IoFailed(absl::string_view what) {
  std::string why = absl::StrCat(what, ": ", ContextError(context_.get()));
  absl::Status status =
      absl::UnavailableError(absl::StrCat("Redis at ", pool_->Where(), " failed: ", why));
  Finish(Outcome::kIoFailed, why);
  return status;
}

void ConnectionPool::Lease::Finish(Outcome outcome, const std::string& why) {
  if (pool_ == nullptr) return;
  std::exchange(pool_, nullptr)->Release(std::move(context_), pooled_, outcome, why);
}

ConnectionPool::ConnectionPool(PoolConfig config, const Clock* clock, OnConnect on_connect)
    : config_(std::move(config)), clock_(clock), on_connect_(std::move(on_connect)) {}

std::string ConnectionPool::Where() const { return absl::StrCat(config_.host, ":", config_.port); }

bool ConnectionPool::available() const {
  absl::MutexLock lock(&mu_);
  return down_since_ == absl::InfinitePast();
}

absl::Status ConnectionPool::BreakerOpenStatus() const {
  return absl::UnavailableError(absl::StrCat(
      "Redis at ", Where(), " unreachable since ",
      absl::FormatTime(absl::RFC3339_full, down_since_, absl::UTCTimeZone()), "; retrying after ",
      absl::FormatTime(absl::RFC3339_full, retry_at_, absl::UTCTimeZone()), " (", down_reason_,
      ")"));
}

absl::StatusOr<Context> ConnectionPool::Connect() {
  Context c(redisConnectWithTimeout(config_.host.c_str(), config_.port,
                                    absl::ToTimeval(config_.connect_timeout)));
  if (c == nullptr || c->err != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", ContextError(c.get())));
  }
  if (redisSetTimeout(c.get(), absl::ToTimeval(config_.command_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("setting the timeout: ", ContextError(c.get())));
  }
  if (!config_.password.empty()) {
    // Binary-safe arguments: the password is never formatted into a command string.
    const bool acl = !config_.username.empty();
    const char* argv[3] = {"AUTH", acl ? config_.username.c_str() : config_.password.c_str(),
                           config_.password.c_str()};
    const size_t lens[3] = {4, acl ? config_.username.size() : config_.password.size(),
                            config_.password.size()};
    auto* reply = static_cast<redisReply*>(redisCommandArgv(c.get(), acl ? 3 : 2, argv, lens));
    if (reply == nullptr) {
      return absl::UnavailableError(absl::StrCat("AUTH: ", ContextError(c.get())));
    }
    const bool refused = reply->type == REDIS_REPLY_ERROR;
    const std::string error = refused ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    // Redis's message ("WRONGPASS invalid username-password pair") names no secret.
    if (refused) return absl::UnauthenticatedError(absl::StrCat("Redis AUTH refused: ", error));
  }
  if (on_connect_) {
    if (absl::Status s = on_connect_(c.get()); !s.ok()) {
      return absl::UnavailableError(s.message());
    }
  }
  return c;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  bool pooled = false;
  {
    absl::MutexLock lock(&mu_);
    if (down_since_ != absl::InfinitePast()) {
      if (probing_ || clock_->Now() < retry_at_) return BreakerOpenStatus();
      probing_ = true;  // this call tries Redis again; the others keep failing fast
    }
    while (!free_.empty()) {
      Context c = std::move(free_.back());
      free_.pop_back();
      if (IdleConnectionOpen(c.get())) return Lease(this, std::move(c), /*pooled=*/true);
      --pooled_open_;  // closed by the server while idle: discarded
    }
    if (pooled_open_ < config_.max_connections) {
      ++pooled_open_;  // reserved while connecting
      pooled = true;
    }
  }
  absl::StatusOr<Context> c = Connect();
  if (!c.ok()) {
    {
      absl::MutexLock lock(&mu_);
      if (pooled) --pooled_open_;
    }
    Trip(std::string(c.status().message()));
    return absl::UnavailableError(
        absl::StrCat("Redis at ", Where(), " failed: ", c.status().message()));
  }
  return Lease(this, *std::move(c), pooled);
}

void ConnectionPool::Release(Context context, bool pooled, Lease::Outcome outcome,
                             const std::string& why) {
  if (outcome == Lease::Outcome::kIoFailed) {
    context.reset();
    {
      absl::MutexLock lock(&mu_);
      if (pooled) --pooled_open_;
    }
    Trip(why);
    return;
  }
  bool recovered = false;
  absl::Time down_since;
  {
    absl::MutexLock lock(&mu_);
    probing_ = false;
    if (outcome == Lease::Outcome::kAbandoned) {
      if (pooled) --pooled_open_;
      return;
    }
    if (down_since_ != absl::InfinitePast()) {
      recovered = true;
      down_since = down_since_;
      down_since_ = absl::InfinitePast();
      retry_at_ = absl::InfinitePast();
      down_reason_.clear();
    }
    if (pooled) free_.push_back(std::move(context));
  }
  if (recovered) {
    SM_LOG(Info, "redis_available")
        .Kv("address", Where())
        .Kv("down_for", clock_->Now() - down_since);
  }
}

void ConnectionPool::Trip(const std::string& why) {
  std::vector<Context> idle;
  bool opened = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    if (down_since_ == absl::InfinitePast()) {
      down_since_ = now;
      opened = true;
    }
    retry_at_ = now + config_.retry_after;
    down_reason_ = why;
    probing_ = false;
    pooled_open_ -= static_cast<int>(free_.size());
    idle.swap(free_);  // closed below, outside the lock
  }
  if (opened) {
    SM_LOG(Warn, "redis_unavailable")
        .Kv("address", Where())
        .Kv("reason", why)
        .Kv("retry_after", config_.retry_after);
  }
}

}  // namespace streammetrics::redis
