// ConnectionPool: connections to one Redis server through hiredis' synchronous API, behind a
// circuit breaker. hiredis is the only Redis client Debian 12 packages for C++ (there is no
// redis-plus-plus), so the pool and the breaker are written here, on top of it.
//
// Connections. At most max_connections are pooled, opened on demand and reused. A call that finds
// every pooled connection busy gets a temporary connection, closed after the call, rather than
// waiting behind another call's pipeline: a quick read must not queue behind a long batch of
// writes, and the callers (a server's threads, a writer) bound how many there can be. A connection
// that had an I/O error is discarded, never reused; an idle one the server closed is noticed
// (without blocking) before it is lent.
//
// Circuit breaker. A failure to connect, or an I/O error (timeout, connection lost), opens the
// breaker: every Acquire then fails at once with Unavailable, without touching the network, until
// retry_after has passed on the injected clock; then one call tries again (the others keep failing
// fast while it does). Its success closes the breaker, its failure opens it for another
// retry_after. An error answered by Redis (e.g. a script error) is the caller's business and does
// not open the breaker: the server is there. So a service whose Redis is down answers from its
// other sources at full speed instead of paying connect_timeout on every call.
//
// Thread-safe.
#ifndef STREAMMETRICS_LIB_REDIS_CONNECTION_POOL_H_
#define STREAMMETRICS_LIB_REDIS_CONNECTION_POOL_H_

#include <hiredis/hiredis.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/common/clock.h"

namespace streammetrics::redis {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Reads the next pipelined reply; null on an I/O error (then c->err says which).
Reply NextReply(redisContext* c);

// What went wrong on `c` (hiredis' errstr), or that it could not be allocated.
std::string ContextError(const redisContext* c);

struct PoolConfig {
  // Address of the Redis server (an IP address, or a name resolved at each connect).
  std::string host = "127.0.0.1";
  int port = 56379;
  // Sent with AUTH on every new connection when not empty (Redis `requirepass`, or an ACL user's
  // password with `username`). Never logged.
  std::string username;
  std::string password;
  // Limit on opening a TCP connection.
  absl::Duration connect_timeout = absl::Milliseconds(200);
  // Limit on each socket read or write of a command (not on a whole pipeline); exceeding it is an
  // I/O error, which discards the connection and opens the breaker.
  absl::Duration command_timeout = absl::Milliseconds(200);
  // How long the breaker stays open after a connection or I/O failure before one call tries
  // Redis again.
  absl::Duration retry_after = absl::Seconds(1);
  // Connections kept open for reuse; calls beyond them use temporary connections.
  int max_connections = 8;
};

// OK, or InvalidArgument naming the setting: an empty host, a port outside 1..65535, a
// non-positive or infinite timeout or retry_after, max_connections < 1.
absl::Status CheckPoolConfig(const PoolConfig& config);

class ConnectionPool {
 public:
  // Runs on every new connection before it is lent (e.g. to load a script). A failure fails that
  // Acquire with Unavailable and opens the breaker.
  using OnConnect = std::function<absl::Status(redisContext*)>;

  // `config` must pass CheckPoolConfig; `clock` times the breaker and must outlive the pool.
  ConnectionPool(PoolConfig config, const Clock* clock, OnConnect on_connect = nullptr);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection lent to one call. Give it back with Answered (Redis answered everything sent,
  // errors included: the connection is reused and the breaker closes) or IoFailed (the connection
  // is discarded and the breaker opens); dropping it otherwise discards the connection, which may
  // have replies unread, and leaves the breaker as it is.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    redisContext* get() const { return context_.get(); }
    void Answered();
    // Returns the Unavailable status of the failure, naming what `what` was under way.
    absl::Status IoFailed(absl::string_view what);

   private:
    friend class ConnectionPool;
    enum class Outcome { kAnswered, kIoFailed, kAbandoned };
    Lease(ConnectionPool* pool, Context context, bool pooled);
    void Finish(Outcome outcome, const std::string& why);

    ConnectionPool* pool_;
    Context context_;
    bool pooled_;
  };

  // Admits a call through the breaker and lends it a connection: a free pooled one, a new pooled
  // one while the pool has room, else a temporary one. Unavailable while the breaker is open, or
  // when connecting fails (which opens it).
  absl::StatusOr<Lease> Acquire();

  // False while the breaker is open (from a connection or I/O failure until a call succeeds
  // again).
  bool available() const;

  // "host:port", for messages.
  std::string Where() const;

 private:
  void Release(Context context, bool pooled, Lease::Outcome outcome, const std::string& why);
  absl::StatusOr<Context> Connect();
  // Opens the breaker (or keeps it open) with `why`. Drops idle pooled connections: after a
  // failure they are most likely dead too.
  void Trip(const std::string& why);
  absl::Status BreakerOpenStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PoolConfig config_;
  const Clock* const clock_;
  const OnConnect on_connect_;

  mutable absl::Mutex mu_;
  std::vector<Context> free_ ABSL_GUARDED_BY(mu_);
  // Pooled connections open: free ones plus those lent out.
  int pooled_open_ ABSL_GUARDED_BY(mu_) = 0;
  // Breaker: open while down_since_ is finite. A call at or after retry_at_ becomes the probe.
  absl::Time down_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool probing_ ABSL_GUARDED_BY(mu_) = false;
  std::string down_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::redis

#endif  // STREAMMETRICS_LIB_REDIS_CONNECTION_POOL_H_
