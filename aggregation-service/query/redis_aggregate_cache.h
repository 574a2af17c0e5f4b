// RedisAggregateCache: the AggregateCache over Redis 7, through hiredis' synchronous API.
//
// hiredis is the only Redis client Debian 12 packages for C++ (there is no redis-plus-plus), so the
// connection pool, the circuit breaker and the pipelining are written here, on top of it.
//
// Layout. Per series and window size two keys, each a hash:
//   <prefix>latest:<1m|5m>:<series_key>   the newest window written
//   <prefix>final:<1m|5m>:<series_key>    the newest final window written
// with fields `start` (window start, unix microseconds), `rev` (revision) and `data` (the
// serialized WindowAggregate without its sketch). Every write sets the key's TTL (entry_ttl), so
// series that stopped reporting leave the cache by themselves.
//
// Forward only. A Lua script compares the stored (start, rev) with the new one and writes only
// when the new window is newer, so the check and the write are one atomic step in Redis: two
// writers racing (the cache writer and a read-through fill) can never move an entry back. The
// first connection loads the script (SCRIPT LOAD) and its SHA is kept; calls run it by EVALSHA.
// A NOSCRIPT answer (Redis restarted, or its script cache was flushed) makes the call resend those
// windows, the first by EVAL, which puts the script back into Redis' cache, the rest by EVALSHA.
//
// Pipelining. PutLatest sends one EVALSHA per window and reads the replies only after sending all
// of them, so a batch of thousands of windows costs about one round trip, not one each.
//
// Connections. A pool of at most max_connections, opened on demand and reused. A call that finds
// every pooled connection busy opens a temporary connection, closed after the call, rather than
// waiting behind another call's pipeline: queries must not queue behind the cache writer's batch,
// and the callers (the query server's threads and one cache writer) bound how many there can be.
// A connection that had an I/O error is discarded, never reused; an idle one the server closed is
// noticed (without blocking) before it is used.
//
// Circuit breaker. A failure to connect, or an I/O error (timeout, connection lost), opens the
// breaker: every call then fails at once with Unavailable, without touching the network, until
// retry_after has passed on the injected clock; then one call tries again (the others keep
// failing fast while it does). Its success closes the breaker, its failure opens it for another
// retry_after. An error answered by Redis (e.g. a script error) fails that call with Unavailable
// but does not open the breaker: the server is there. So when Redis is down the query side answers
// from PostgreSQL at full speed instead of paying connect_timeout on every query.
//
// Thread-safe.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_AGGREGATE_CACHE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_AGGREGATE_CACHE_H_

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/query/aggregate_cache.h"
#include "lib/common/clock.h"

namespace streammetrics::aggregation {

struct RedisCacheConfig {
  // Address of the Redis server (an IP address, or a name resolved at each connect). Default: the
  // local stack's, 127.0.0.1:56379.
  std::string host = "127.0.0.1";
  int port = 56379;
  // Limit on opening a TCP connection. Short, because a query waits for it. Default 200 ms.
  absl::Duration connect_timeout = absl::Milliseconds(200);
  // Limit on each socket read or write of a command (not on a whole pipeline); exceeding it is an
  // I/O error, which discards the connection and opens the breaker. Default 200 ms.
  absl::Duration command_timeout = absl::Milliseconds(200);
  // TTL set on an entry at each write; a series silent for that long leaves the cache. Default 24
  // h.
  absl::Duration entry_ttl = absl::Hours(24);
  // How long the breaker stays open after a connection or I/O failure before one call tries Redis
  // again. Default 1 s.
  absl::Duration retry_after = absl::Seconds(1);
  // Connections kept open for reuse; calls beyond them use temporary connections. Default 8.
  int max_connections = 8;
  // Prefix of every key, so deployments (and test runs) sharing a Redis do not collide, and a
  // change of the value layout can move to new keys. Default "sm:v1:".
  std::string key_prefix = "sm:v1:";
};

class RedisAggregateCache final : public AggregateCache {
 public:
  // Checks `config` and tries to open one connection (loading the script), so that available()
  // is right from the start. Never fails because Redis cannot be reached: the breaker opens
  // instead, and the service starts and answers from PostgreSQL. Fails with InvalidArgument for an
  // empty host, a port outside 1..65535, a non-positive timeout, TTL or retry_after, a TTL below
  // one millisecond, or max_connections < 1. `clock` (default: the real clock) times the breaker;
  // it must outlive the cache.
  static absl::StatusOr<std::unique_ptr<RedisAggregateCache>> Create(
      RedisCacheConfig config, const Clock* clock = RealClock::Get());

  ~RedisAggregateCache() override;
  RedisAggregateCache(const RedisAggregateCache&) = delete;
  RedisAggregateCache& operator=(const RedisAggregateCache&) = delete;

  // See AggregateCache. All windows are checked before anything is sent. Unavailable also while
  // the breaker is open (without touching the network).
  absl::Status PutLatest(const std::vector<v1::WindowAggregate>& windows) override;

  // See AggregateCache: one HGET. Unavailable also while the breaker is open. InvalidArgument for
  // an empty series key or a size other than 1m or 5m. DataLoss also when the cached window is of
  // another series or size than its key says.
  // SCAN of the key prefix, UNLINK of each page of keys.
  absl::Status Clear() override;
  absl::StatusOr<std::optional<v1::WindowAggregate>> GetLatest(absl::string_view series_key,
                                                               v1::WindowSize window_size,
                                                               bool final_only) override;

  // False while the breaker is open (from a connection or I/O failure until a call succeeds
  // again), for the service's degradation gauge.
  bool available() const;

  // Times a NOSCRIPT answer made a call fall back to EVAL (Redis restarted or its script cache was
  // flushed since the script was loaded).
  uint64_t script_reloads() const;

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  using Context = std::unique_ptr<redisContext, ContextDeleter>;
  class Lease;

  RedisAggregateCache(RedisCacheConfig config, const Clock* clock);

  // Admits a call through the breaker and hands it a connection: a free pooled one, a new pooled
  // one while the pool has room, else a temporary one. Unavailable while the breaker is open or
  // when connecting fails (which opens it).
  absl::StatusOr<Lease> Acquire();
  // How a call ended with its connection.
  enum class Outcome {
    // Redis answered everything sent (errors included): the connection is reusable and the
    // breaker closes.
    kAnswered,
    // An I/O error: the connection is discarded and the breaker opens.
    kIoFailed,
    // Left with replies unread: the connection is discarded; the breaker is left as it is.
    kAbandoned,
  };
  // Takes a connection back after a call (the Lease does this).
  void Release(Context context, bool pooled, Outcome outcome, const std::string& why);
  // Opens a connection with the configured timeouts; when no script SHA is known yet, loads the
  // script on it.
  absl::StatusOr<Context> Connect();
  // Opens the breaker (or keeps it open) with `why`. Drops idle pooled connections: after a
  // failure they are most likely dead too.
  void Trip(const std::string& why);
  // The Unavailable status of a call refused by the open breaker. Caller holds mu_.
  absl::Status BreakerOpenStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The pipelined writes of PutLatest on one connection. Sets *io_failed on an I/O error.
  absl::Status WriteWindows(redisContext* c, const std::vector<v1::WindowAggregate>& windows,
                            bool* io_failed);

  std::string Key(absl::string_view kind, v1::WindowSize size, absl::string_view series_key) const;
  std::string Where() const;

  const RedisCacheConfig config_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  std::vector<Context> free_ ABSL_GUARDED_BY(mu_);
  // Pooled connections open: free ones plus those lent out.
  int pooled_open_ ABSL_GUARDED_BY(mu_) = 0;
  // SHA1 of the script, as SCRIPT LOAD answered it; empty until one connection loaded it. It never
  // changes: it is the hash of the script's text.
  std::string script_sha_ ABSL_GUARDED_BY(mu_);
  // Breaker: open while down_since_ is finite. A call at or after retry_at_ becomes the probe.
  absl::Time down_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool probing_ ABSL_GUARDED_BY(mu_) = false;
  std::string down_reason_ ABSL_GUARDED_BY(mu_);
  uint64_t script_reloads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_AGGREGATE_CACHE_H_
