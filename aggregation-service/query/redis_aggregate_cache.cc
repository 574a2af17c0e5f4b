#include "aggregation-service/query/redis_aggregate_cache.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/redis_put_script.h"
#include "lib/common/log.h"
#include "lib/common/status_macros.h"

namespace streammetrics::aggregation {
namespace {

// The arguments of one window's script call, kept alive until the command is formatted.
struct PutArgs {
  std::string latest_key;
  std::string final_key;
  std::string start;
  std::string revision;
  std::string data;
  const char* is_final;
};

int64_t StartMicros(const v1::WindowAggregate& window) {
  return window.window_start().seconds() * 1'000'000 + window.window_start().nanos() / 1'000;
}

absl::Status CheckWindowId(absl::string_view series_key, v1::WindowSize size) {
  if (series_key.empty()) return absl::InvalidArgumentError("window without a series_key");
  if (WindowSizeName(size).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window of series ", series_key, " has window size ", size, ", neither 1m nor 5m"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisAggregateCache>> RedisAggregateCache::Create(
    RedisCacheConfig config, const Clock* clock) {
  RETURN_IF_ERROR(redis::CheckPoolConfig(config.pool));
  if (config.entry_ttl < absl::Milliseconds(1) || config.entry_ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis entry_ttl must be at least 1ms and finite, is ",
                     absl::FormatDuration(config.entry_ttl)));
  }
  if (clock == nullptr) return absl::InvalidArgumentError("no clock");
  auto cache =
      std::unique_ptr<RedisAggregateCache>(new RedisAggregateCache(std::move(config), clock));
  // Opens the first pooled connection and loads the script. A failure opens the breaker (and is
  // logged by the pool): the cache starts unavailable and recovers by itself.
  if (absl::StatusOr<redis::ConnectionPool::Lease> lease = cache->pool_.Acquire(); lease.ok()) {
    lease->Answered();
  }
  return cache;
}

RedisAggregateCache::RedisAggregateCache(RedisCacheConfig config, const Clock* clock)
    : config_(std::move(config)),
      pool_(config_.pool, clock, [this](redisContext* c) { return LoadScriptIfUnknown(c); }) {}

RedisAggregateCache::~RedisAggregateCache() = default;

std::string RedisAggregateCache::Where() const { return pool_.Where(); }

std::string RedisAggregateCache::Key(absl::string_view kind, v1::WindowSize size,
                                     absl::string_view series_key) const {
  return absl::StrCat(config_.key_prefix, kind, ":", WindowSizeName(size), ":", series_key);
}

bool RedisAggregateCache::available() const { return pool_.available(); }

uint64_t RedisAggregateCache::script_reloads() const {
  absl::MutexLock lock(&mu_);
  return script_reloads_;
}

absl::Status RedisAggregateCache::LoadScriptIfUnknown(redisContext* c) {
  {
    absl::MutexLock lock(&mu_);
    if (!script_sha_.empty()) return absl::OkStatus();
  }
  redis::Reply reply(static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kPutScript)));
  if (reply == nullptr) {
    return absl::UnavailableError(absl::StrCat("SCRIPT LOAD: ", redis::ContextError(c)));
  }
  // An error answer leaves the SHA unknown; PutLatest then sends the script itself (EVAL).
  if (reply->type == REDIS_REPLY_STRING) {
    absl::MutexLock lock(&mu_);
    script_sha_.assign(reply->str, reply->len);
  }
  return absl::OkStatus();
}

absl::Status RedisAggregateCache::PutLatest(const std::vector<v1::WindowAggregate>& windows) {
  for (const v1::WindowAggregate& w : windows) {
    if (absl::Status s = CheckWindowId(w.series_key(), w.window_size()); !s.ok()) return s;
  }
  if (windows.empty()) return absl::OkStatus();
  absl::StatusOr<redis::ConnectionPool::Lease> lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  bool io_failed = false;
  absl::Status status = WriteWindows(lease->get(), windows, &io_failed);
  if (io_failed) return lease->IoFailed(status.message());
  lease->Answered();
  return status;
}

absl::Status RedisAggregateCache::WriteWindows(redisContext* c,
                                               const std::vector<v1::WindowAggregate>& windows,
                                               bool* io_failed) {
  const std::string ttl_ms = absl::StrCat(absl::ToInt64Milliseconds(config_.entry_ttl));
  std::string sha;
  {
    absl::MutexLock lock(&mu_);
    sha = script_sha_;
  }
  // Appends the script call of `w`: with the script's source when `by_source`, else by SHA.
  v1::WindowAggregate stripped;
  auto append = [&](const v1::WindowAggregate& w, bool by_source) {
    stripped = w;
    stripped.clear_sketch();
    PutArgs a{Key("latest", w.window_size(), w.series_key()),
              Key("final", w.window_size(), w.series_key()),
              absl::StrCat(StartMicros(w)),
              absl::StrCat(w.revision()),
              stripped.SerializeAsString(),
              w.is_final() ? "1" : "0"};
    // %b: series keys (and so keys) and serialized windows are arbitrary bytes.
    return redisAppendCommand(
               c,
               by_source ? "EVAL %s 2 %b %b %s %s %b %s %s" : "EVALSHA %s 2 %b %b %s %s %b %s %s",
               by_source ? kPutScript : sha.c_str(), a.latest_key.data(), a.latest_key.size(),
               a.final_key.data(), a.final_key.size(), a.start.c_str(), a.revision.c_str(),
               a.data.data(), a.data.size(), ttl_ms.c_str(), a.is_final) == REDIS_OK;
  };

  // One pipeline: sends the calls of `indices` (the first `by_source` of them with the script's
  // source, the others by SHA), then reads every reply, so the batch waits for about one round
  // trip. Replies are read to the end even after an error answer, so the connection stays in
  // step. NOSCRIPT answers go to `noscript` when given; other error answers to `first_error`.
  auto run = [&](const std::vector<size_t>& indices, size_t by_source,
                 std::vector<size_t>* noscript, std::string* first_error) -> absl::Status {
    for (size_t k = 0; k < indices.size(); ++k) {
      if (!append(windows[indices[k]], k < by_source)) {
        *io_failed = true;
        return absl::UnavailableError("formatting a command");
      }
    }
    for (size_t i : indices) {
      redis::Reply reply = redis::NextReply(c);
      if (reply == nullptr) {
        *io_failed = true;
        return absl::UnavailableError(absl::StrCat("writing ", indices.size(), " windows"));
      }
      if (reply->type == REDIS_REPLY_ERROR) {
        const absl::string_view error(reply->str, reply->len);
        if (noscript != nullptr && absl::StartsWith(error, "NOSCRIPT")) {
          noscript->push_back(i);
        } else if (first_error->empty()) {
          *first_error = absl::StrCat("window ", windows[i].series_key(), " ",
                                      WindowSizeName(windows[i].window_size()), ": ", error);
        }
      }
    }
    return absl::OkStatus();
  };

  std::vector<size_t> all(windows.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::vector<size_t> noscript;
  std::string first_error;
  RETURN_IF_ERROR(run(all, sha.empty() ? all.size() : 0, &noscript, &first_error));
  if (!noscript.empty()) {
    // Redis lost the script (restarted, or its script cache was flushed). The first call goes
    // with the source (EVAL), which also puts the script back into Redis' cache, so the rest of
    // the pipeline, behind it on the same connection, finds it by SHA again: the source is sent
    // once, not once per window.
    {
      absl::MutexLock lock(&mu_);
      ++script_reloads_;
    }
    std::vector<size_t> again;
    RETURN_IF_ERROR(run(noscript, 1, &again, &first_error));
    // Only a Redis that does not cache EVAL'd scripts gets here: send the source with each.
    if (!again.empty()) RETURN_IF_ERROR(run(again, again.size(), nullptr, &first_error));
  }
  if (!first_error.empty()) {
    return absl::UnavailableError(
        absl::StrCat("Redis at ", Where(), " refused a cache write: ", first_error));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::WindowAggregate>> RedisAggregateCache::GetLatest(
    absl::string_view series_key, v1::WindowSize window_size, bool final_only) {
  RETURN_IF_ERROR(CheckWindowId(series_key, window_size));
  const std::string key = Key(final_only ? "final" : "latest", window_size, series_key);
  absl::StatusOr<redis::ConnectionPool::Lease> lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  redis::Reply reply(
      static_cast<redisReply*>(redisCommand(lease->get(), "HGET %b data", key.data(), key.size())));
  if (reply == nullptr) return lease->IoFailed("HGET");
  lease->Answered();
  switch (reply->type) {
    case REDIS_REPLY_NIL:
      return std::nullopt;
    case REDIS_REPLY_STRING:
      break;
    case REDIS_REPLY_ERROR:
      return absl::UnavailableError(absl::StrCat("Redis at ", Where(), " refused HGET of ", key,
                                                 ": ", absl::string_view(reply->str, reply->len)));
    default:
      return absl::UnavailableError(absl::StrCat("Redis at ", Where(), " answered HGET of ", key,
                                                 " with a reply of type ", reply->type));
  }
  v1::WindowAggregate window;
  if (!window.ParseFromArray(reply->str, static_cast<int>(reply->len))) {
    return absl::DataLossError(
        absl::StrCat("cached window ", key, " does not parse (", reply->len, " bytes)"));
  }
  if (window.series_key() != series_key || window.window_size() != window_size ||
      (final_only && !window.is_final())) {
    return absl::DataLossError(absl::StrCat("cached window ", key, " holds a window of series ",
                                            window.series_key(), " size ", window.window_size(),
                                            window.is_final() ? " (final)" : " (open)"));
  }
  return window;
}

absl::Status RedisAggregateCache::Clear() {
  // The prefix is matched as a glob: its special characters are escaped.
  std::string pattern;
  for (char c : config_.key_prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += '*';
  absl::StatusOr<redis::ConnectionPool::Lease> lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  // One connection for the whole scan (a lease ends with Answered or IoFailed).
  std::string cursor = "0";
  do {
    redis::Reply page(
        static_cast<redisReply*>(redisCommand(lease->get(), "SCAN %s MATCH %b COUNT 1000",
                                              cursor.c_str(), pattern.data(), pattern.size())));
    if (page == nullptr) return lease->IoFailed("SCAN");
    if (page->type != REDIS_REPLY_ARRAY || page->elements != 2 ||
        page->element[0]->type != REDIS_REPLY_STRING ||
        page->element[1]->type != REDIS_REPLY_ARRAY) {
      lease->Answered();
      return absl::UnavailableError(
          absl::StrCat("Redis at ", Where(), " answered SCAN with an unexpected reply"));
    }
    cursor.assign(page->element[0]->str, page->element[0]->len);
    const redisReply* keys = page->element[1];
    if (keys->elements == 0) continue;
    std::vector<const char*> argv = {"UNLINK"};
    std::vector<size_t> lengths = {6};
    for (size_t k = 0; k < keys->elements; ++k) {
      argv.push_back(keys->element[k]->str);
      lengths.push_back(keys->element[k]->len);
    }
    redis::Reply unlinked(static_cast<redisReply*>(redisCommandArgv(
        lease->get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (unlinked == nullptr) return lease->IoFailed("UNLINK");
    if (unlinked->type == REDIS_REPLY_ERROR) {
      lease->Answered();
      return absl::UnavailableError(absl::StrCat("Redis at ", Where(), " refused UNLINK: ",
                                                 absl::string_view(unlinked->str, unlinked->len)));
    }
  } while (cursor != "0");
  lease->Answered();
  return absl::OkStatus();
}

}  // namespace streammetrics::aggregation
