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
// Connections and circuit breaker: lib/redis/connection_pool.h. When Redis is down the breaker
// fails calls fast, so the query side answers from PostgreSQL at full speed.
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
#include "lib/redis/connection_pool.h"

namespace streammetrics::aggregation {

struct RedisCacheConfig {
  // The server (default: the local stack's, 127.0.0.1:56379), timeouts (200 ms to connect and per
  // socket read or write), the breaker's retry_after (1 s) and the pooled connections (8).
  redis::PoolConfig pool;
  // TTL set on an entry at each write; a series silent for that long leaves the cache. Default 24
  // h.
  absl::Duration entry_ttl = absl::Hours(24);
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
  RedisAggregateCache(RedisCacheConfig config, const Clock* clock);

  // The pool's OnConnect: loads the script on the connection when its SHA is not known yet.
  absl::Status LoadScriptIfUnknown(redisContext* c);

  // The pipelined writes of PutLatest on one connection. Sets *io_failed on an I/O error.
  absl::Status WriteWindows(redisContext* c, const std::vector<v1::WindowAggregate>& windows,
                            bool* io_failed);

  std::string Key(absl::string_view kind, v1::WindowSize size, absl::string_view series_key) const;
  std::string Where() const;

  const RedisCacheConfig config_;
  redis::ConnectionPool pool_;

  mutable absl::Mutex mu_;
  // SHA1 of the script, as SCRIPT LOAD answered it; empty until one connection loaded it. It never
  // changes: it is the hash of the script's text.
  std::string script_sha_ ABSL_GUARDED_BY(mu_);
  uint64_t script_reloads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_AGGREGATE_CACHE_H_
