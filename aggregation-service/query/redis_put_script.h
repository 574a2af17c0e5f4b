// The Lua script behind RedisAggregateCache::PutLatest: the cache's forward-only rule
// (aggregate_cache.h), carried out atomically inside Redis so that no two writers can interleave
// between the comparison and the write. Kept apart from the connection handling because it is a
// small program of its own, in another language.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_PUT_SCRIPT_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_PUT_SCRIPT_H_

namespace streammetrics::aggregation {

// The forward-only write of one window, atomic in Redis.
//   KEYS[1] the latest key, KEYS[2] the final key.
//   ARGV[1] window start (unix microseconds), ARGV[2] revision, ARGV[3] the serialized window,
//   ARGV[4] TTL in milliseconds, ARGV[5] "1" when the window is final, else "0".
// Writes KEYS[1], and KEYS[2] when final, unless the stored (start, rev) is at least as new.
// Returns how many keys it wrote.
//
// Starts and revisions are compared as decimal strings, not Lua numbers: Lua numbers are doubles,
// exact only up to 2^53, and a revision may go up to 2^64 - 1. The strings are canonical (no
// leading zeros, no "-0"), as absl::StrCat writes them, so a longer magnitude is the larger one
// and equal lengths compare character by character.
inline constexpr char kPutScript[] = R"lua(
local function cmp(a, b)
  local an, bn = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if an ~= bn then
    if an then return -1 else return 1 end
  end
  if a == b then return 0 end
  local r
  if #a ~= #b then
    if #a < #b then r = -1 else r = 1 end
  else
    if a < b then r = -1 else r = 1 end
  end
  if an then r = -r end
  return r
end
local function put(key)
  local cur = redis.call('HMGET', key, 'start', 'rev')
  if cur[1] and cur[2] then
    local c = cmp(ARGV[1], cur[1])
    if c < 0 or (c == 0 and cmp(ARGV[2], cur[2]) <= 0) then return 0 end
  end
  redis.call('HSET', key, 'start', ARGV[1], 'rev', ARGV[2], 'data', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
  return 1
end
local written = put(KEYS[1])
if ARGV[5] == '1' then written = written + put(KEYS[2]) end
return written
)lua";

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_REDIS_PUT_SCRIPT_H_
