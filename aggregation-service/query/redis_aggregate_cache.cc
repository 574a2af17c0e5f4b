#include "aggregation-service/query/redis_aggregate_cache.h"

#include <poll.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "aggregation-service/query/redis_put_script.h"
#include "aggregation-service/window_math.h"
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

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Reads the next pipelined reply; null on an I/O error (then c->err says which).
Reply NextReply(redisContext* c) {
  void* reply = nullptr;
  if (redisGetReply(c, &reply) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(reply));
}

std::string ContextError(const redisContext* c) {
  return c == nullptr ? std::string("cannot allocate a connection") : std::string(c->errstr);
}

// True when an idle connection is still open: nothing to read on it. A peer that closed it (a
// Redis restart, a client timeout) makes it readable (end of file), which poll reports at once.
bool IdleConnectionOpen(const redisContext* c) {
  pollfd p{c->fd, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

}  // namespace

// A connection lent to one call. Give it back with Answered or IoFailed; dropping it otherwise
// discards the connection (it may have replies unread).
class RedisAggregateCache::Lease {
 public:
  Lease(RedisAggregateCache* cache, Context context, bool pooled)
      : cache_(cache), context_(std::move(context)), pooled_(pooled) {}
  Lease(Lease&& other) noexcept
      : cache_(std::exchange(other.cache_, nullptr)),
        context_(std::move(other.context_)),
        pooled_(other.pooled_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() { Finish(Outcome::kAbandoned, ""); }

  redisContext* get() const { return context_.get(); }
  void Answered() { Finish(Outcome::kAnswered, ""); }
  // Returns the Unavailable status of the failure, naming `what` was under way.
  absl::Status IoFailed(absl::string_view what) {
    std::string why = absl::StrCat(what, ": ", ContextError(context_.get()));
    absl::Status status =
        absl::UnavailableError(absl::StrCat("Redis at ", cache_->Where(), " failed: ", why));
    Finish(Outcome::kIoFailed, why);
    return status;
  }

 private:
  void Finish(Outcome outcome, const std::string& why) {
    if (cache_ == nullptr) return;
    std::exchange(cache_, nullptr)->Release(std::move(context_), pooled_, outcome, why);
  }

  RedisAggregateCache* cache_;
  Context context_;
  bool pooled_;
};

absl::StatusOr<std::unique_ptr<RedisAggregateCache>> RedisAggregateCache::Create(
    RedisCacheConfig config, const Clock* clock) {
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
  if (config.entry_ttl < absl::Milliseconds(1) || config.entry_ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis entry_ttl must be at least 1ms and finite, is ",
                     absl::FormatDuration(config.entry_ttl)));
  }
  if (config.max_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis max_connections must be at least 1, is ", config.max_connections));
  }
  if (clock == nullptr) return absl::InvalidArgumentError("no clock");
  auto cache =
      std::unique_ptr<RedisAggregateCache>(new RedisAggregateCache(std::move(config), clock));
  // Opens the first pooled connection and loads the script. A failure opens the breaker (and is
  // logged by Trip): the cache starts unavailable and recovers by itself.
  if (absl::StatusOr<Lease> lease = cache->Acquire(); lease.ok()) lease->Answered();
  return cache;
}

RedisAggregateCache::RedisAggregateCache(RedisCacheConfig config, const Clock* clock)
    : config_(std::move(config)), clock_(clock) {}

RedisAggregateCache::~RedisAggregateCache() = default;

std::string RedisAggregateCache::Where() const {
  return absl::StrCat(config_.host, ":", config_.port);
}

std::string RedisAggregateCache::Key(absl::string_view kind, v1::WindowSize size,
                                     absl::string_view series_key) const {
  return absl::StrCat(config_.key_prefix, kind, ":", WindowSizeName(size), ":", series_key);
}

bool RedisAggregateCache::available() const {
  absl::MutexLock lock(&mu_);
  return down_since_ == absl::InfinitePast();
}

uint64_t RedisAggregateCache::script_reloads() const {
  absl::MutexLock lock(&mu_);
  return script_reloads_;
}

absl::Status RedisAggregateCache::BreakerOpenStatus() const {
  return absl::UnavailableError(absl::StrCat(
      "Redis at ", Where(), " unreachable since ",
      absl::FormatTime(absl::RFC3339_full, down_since_, absl::UTCTimeZone()), "; retrying after ",
      absl::FormatTime(absl::RFC3339_full, retry_at_, absl::UTCTimeZone()), " (", down_reason_,
      ")"));
}

absl::StatusOr<RedisAggregateCache::Context> RedisAggregateCache::Connect() {
  Context c(redisConnectWithTimeout(config_.host.c_str(), config_.port,
                                    absl::ToTimeval(config_.connect_timeout)));
  if (c == nullptr || c->err != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", ContextError(c.get())));
  }
  if (redisSetTimeout(c.get(), absl::ToTimeval(config_.command_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("setting the timeout: ", ContextError(c.get())));
  }
  bool need_script;
  {
    absl::MutexLock lock(&mu_);
    need_script = script_sha_.empty();
  }
  if (need_script) {
    Reply reply(static_cast<redisReply*>(redisCommand(c.get(), "SCRIPT LOAD %s", kPutScript)));
    if (reply == nullptr) {
      return absl::UnavailableError(absl::StrCat("SCRIPT LOAD: ", ContextError(c.get())));
    }
    // An error answer leaves the SHA unknown; PutLatest then sends the script itself (EVAL).
    if (reply->type == REDIS_REPLY_STRING) {
      absl::MutexLock lock(&mu_);
      script_sha_.assign(reply->str, reply->len);
    }
  }
  return c;
}

absl::StatusOr<RedisAggregateCache::Lease> RedisAggregateCache::Acquire() {
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

void RedisAggregateCache::Release(Context context, bool pooled, Outcome outcome,
                                  const std::string& why) {
  if (outcome == Outcome::kIoFailed) {
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
    if (outcome == Outcome::kAbandoned) {
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

void RedisAggregateCache::Trip(const std::string& why) {
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

absl::Status RedisAggregateCache::PutLatest(const std::vector<v1::WindowAggregate>& windows) {
  for (const v1::WindowAggregate& w : windows) {
    if (absl::Status s = CheckWindowId(w.series_key(), w.window_size()); !s.ok()) return s;
  }
  if (windows.empty()) return absl::OkStatus();
  absl::StatusOr<Lease> lease = Acquire();
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
      Reply reply = NextReply(c);
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
  absl::StatusOr<Lease> lease = Acquire();
  if (!lease.ok()) return lease.status();
  Reply reply(
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
  absl::StatusOr<Lease> lease = Acquire();
  if (!lease.ok()) return lease.status();
  // One connection for the whole scan (a lease ends with Answered or IoFailed).
  std::string cursor = "0";
  do {
    Reply page(
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
    Reply unlinked(static_cast<redisReply*>(redisCommandArgv(
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
