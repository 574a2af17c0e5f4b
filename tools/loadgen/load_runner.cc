// LoadRunner: paced sending over several MetricsClients (see the header).
#include "tools/loadgen/load_runner.h"

#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tools/loadgen/event_maker.h"

namespace streammetrics::loadgen {
namespace {

// The pacing granularity of a stream (see Stream).
constexpr absl::Duration kPacingTick = absl::Milliseconds(1);

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("load options: ", why));
}

// The addresses of RunOptions::target, in order.
std::vector<std::string> Targets(const RunOptions& o) {
  std::vector<std::string> targets;
  for (absl::string_view t : absl::StrSplit(o.target, ',', absl::SkipWhitespace())) {
    targets.emplace_back(absl::StripAsciiWhitespace(t));
  }
  return targets;
}

absl::Status Check(const RunOptions& o) {
  if (o.streams < 1 || o.streams > 256) return Bad("streams must be in [1, 256]");
  const std::vector<std::string> targets = Targets(o);
  if (targets.empty()) return Bad("target must name an ingest service (host:port)");
  if (targets.size() > static_cast<size_t>(o.streams)) {
    return Bad(absl::StrCat("target names ", targets.size(), " services but streams is ", o.streams,
                            ": each needs a stream of its own"));
  }
  if (!(o.rate >= 0)) return Bad("rate must be >= 0 (0: as fast as possible)");
  if (o.duration <= absl::ZeroDuration()) return Bad("duration must be positive");
  if (o.events < 0) return Bad("events must be >= 0 (0: no limit)");
  if (o.batch_size < 1 || o.batch_size > 1000) return Bad("batch_size must be in [1, 1000]");
  if (o.max_buffered_events < o.batch_size) {
    return Bad("max_buffered_events must be at least batch_size");
  }
  if (o.time_offset < absl::ZeroDuration()) return Bad("time_offset must be >= 0");
  if (!(o.invalid_fraction >= 0 && o.invalid_fraction <= 1)) {
    return Bad("invalid_fraction must be in [0, 1]");
  }
  return absl::OkStatus();
}

}  // namespace

LoadRunner::LoadRunner(RunOptions options, const SeriesCatalog* catalog,
                       const ValueDistribution* values, Ledger* ledger)
    : options_(std::move(options)), catalog_(catalog), values_(values), ledger_(ledger) {}

absl::Time LoadRunner::started() const {
  const int64_t nanos = started_unix_nanos_.load();
  return nanos == 0 ? absl::InfinitePast() : absl::FromUnixNanos(nanos);
}

namespace {

// User plus system CPU time of the whole process so far.
absl::Duration ProcessCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

}  // namespace

absl::Status LoadRunner::Run() {
  if (absl::Status s = Check(options_); !s.ok()) return s;
  const absl::Duration cpu_at_start = ProcessCpuTime();
  const std::vector<std::string> targets = Targets(options_);
  std::vector<std::unique_ptr<client::MetricsClient>> clients;
  for (int64_t i = 0; i < options_.streams; ++i) {
    client::MetricsClientOptions o;
    o.target = targets[static_cast<size_t>(i) % targets.size()];
    o.security = options_.security;
    o.client_id = absl::StrCat(options_.run_id, "-", i);
    o.max_batch_events = static_cast<size_t>(options_.batch_size);
    o.max_batch_delay = options_.max_batch_delay;
    o.max_buffered_events = static_cast<size_t>(options_.max_buffered_events);
    o.on_ack = [this](const v1::BatchAck& ack, const v1::MetricBatch& batch, absl::Time) {
      ledger_->OnAck(ack, batch, absl::Now());
    };
    absl::StatusOr<std::unique_ptr<client::MetricsClient>> c =
        client::MetricsClient::Create(std::move(o));
    if (!c.ok()) return c.status();
    clients.push_back(*std::move(c));
  }
  budget_.store(options_.events);
  const absl::Time start = absl::Now();
  started_unix_nanos_.store(absl::ToUnixNanos(start));
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < options_.streams; ++i) {
    threads.emplace_back([this, i, &clients] { Stream(static_cast<int>(i), clients[i].get()); });
  }
  for (std::thread& t : threads) t.join();
  totals_.elapsed = absl::Now() - start;

  const absl::Time flush_start = absl::Now();
  const absl::Time flush_deadline = flush_start + options_.flush_timeout;
  for (size_t i = 0; i < clients.size(); ++i) {
    absl::Status closed =
        clients[i]->Close(std::max(flush_deadline - absl::Now(), absl::Milliseconds(1)));
    if (!closed.ok()) {
      totals_.problems.push_back(absl::StrCat("stream ", i, ": ", closed.message()));
    }
  }
  totals_.flush_time = absl::Now() - flush_start;
  totals_.cpu_time = ProcessCpuTime() - cpu_at_start;
  totals_.events_sent = sent_.load();
  totals_.send_timeouts = send_timeouts_.load();
  for (size_t i = 0; i < clients.size(); ++i) {
    const client::MetricsClient::Stats s = clients[i]->stats();
    totals_.events_unacked += s.events_in_flight;
    totals_.batches_resent += s.batches_resent;
    totals_.reconnects += s.reconnects;
    totals_.stream_failures += s.stream_failures;
    if (s.batches_rejected > 0) {
      totals_.problems.push_back(absl::StrCat("stream ", i, ": ", s.batches_rejected,
                                              " batch(es) rejected, last: ", s.last_rejection));
    }
  }
  return absl::OkStatus();
}

void LoadRunner::Stream(int index, client::MetricsClient* client) {
  EventMaker maker(catalog_, values_, options_.run_id, index, options_.seed,
                   options_.invalid_fraction);
  const absl::Time start = started();
  const absl::Time end = start + options_.duration;
  const double stream_rate = options_.rate / static_cast<double>(options_.streams);
  const bool counted = options_.events > 0;
  for (uint64_t k = 0; !stop_.load(std::memory_order_relaxed); ++k) {
    const absl::Time now = absl::Now();
    if (now >= end) return;
    absl::Time due = now;
    if (stream_rate > 0) {
      due = start + absl::Seconds(static_cast<double>(k) / stream_rate);
      if (due > now) {
        // Sleeping is the pacing itself (open loop); bursts catch up after a stall. At least a
        // tick at a time, sending everything due by then: one wake-up per event would cost more
        // CPU than the events at high rates.
        absl::SleepFor(std::min(std::max(due - now, kPacingTick), end - now));
        if (absl::Now() >= end) return;
      }
    }
    if (counted && budget_.fetch_sub(1) <= 0) return;
    absl::Status sent = client->Send(maker.Make(due - options_.time_offset), options_.send_timeout);
    if (sent.ok()) {
      sent_.fetch_add(1, std::memory_order_relaxed);
    } else if (absl::IsDeadlineExceeded(sent)) {
      send_timeouts_.fetch_add(1, std::memory_order_relaxed);
    } else {
      return;  // closed
    }
  }
}

}  // namespace streammetrics::loadgen
