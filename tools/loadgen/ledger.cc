// Ledger: per-window totals of acknowledged events and ack latency (see the header).
#include "tools/loadgen/ledger.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "lib/events/series_key.h"
#include "tools/loadgen/event_maker.h"

namespace streammetrics::loadgen {
namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kFiveMinutes = 300;

int64_t FloorTo(int64_t seconds, int64_t width) {
  const int64_t r = seconds % width;
  return r < 0 ? seconds - r - width : seconds - r;
}

}  // namespace

void Ledger::OnAck(const v1::BatchAck& ack, const v1::MetricBatch& batch, absl::Time now) {
  if (ack.status() != v1::ACK_STATUS_DURABLE) {
    absl::MutexLock lock(&mu_);
    if (ack.status() == v1::ACK_STATUS_FAILED) ++counts_.batches_failed;
    if (ack.permanent() && samples_.size() < kMaxSamples) {
      samples_.push_back(absl::StrCat("batch ", ack.sequence(), " failed for good: ", ack.error()));
    }
    if (ack.status() == v1::ACK_STATUS_REJECTED) {
      ++counts_.batches_rejected;
      if (samples_.size() < kMaxSamples) {
        samples_.push_back(absl::StrCat("batch ", ack.sequence(), " rejected: ", ack.error()));
      }
    }
    return;
  }
  std::vector<const v1::Rejection*> rejected_at(batch.events_size(), nullptr);
  for (const v1::Rejection& r : ack.rejections()) {
    if (r.event_index() < rejected_at.size()) rejected_at[r.event_index()] = &r;
  }
  // Keys are found before taking the lock: the callbacks of several streams contend for it.
  // An event EventMaker made and did not break has its catalog series' key (a broken one may
  // have lost its service_id); any other is keyed by computing its key.
  std::vector<absl::string_view> keys(batch.events_size());
  std::vector<std::string> computed;
  computed.reserve(batch.events_size());  // never reallocates: `keys` points into it
  for (int i = 0; i < batch.events_size(); ++i) {
    if (rejected_at[i] != nullptr) continue;
    const v1::MetricEvent& e = batch.events(i);
    std::optional<size_t> index;
    if (catalog_ != nullptr && !EventMaker::IsDeliberatelyInvalid(e)) {
      index = EventMaker::SeriesIndexOf(e);
    }
    if (index.has_value() && *index < catalog_->size()) {
      keys[i] = catalog_->key(*index);
    } else {
      keys[i] = computed.emplace_back(events::SeriesKey(e));
    }
  }
  absl::MutexLock lock(&mu_);
  ++counts_.batches_durable;
  for (int i = 0; i < batch.events_size(); ++i) {
    const v1::MetricEvent& e = batch.events(i);
    const bool invalid = EventMaker::IsDeliberatelyInvalid(e);
    const double latency_ms = absl::ToDoubleMilliseconds(
        now - time_offset_ -
        absl::FromUnixNanos(
            google::protobuf::util::TimeUtil::TimestampToNanoseconds(e.timestamp())));
    // A deliberately broken event's timestamp may be anything (an hour ahead): not a send time.
    if (!invalid) {
      latency_.Add(std::max(latency_ms, 0.0));
      interval_latency_.Add(std::max(latency_ms, 0.0));
    }
    if (const v1::Rejection* r = rejected_at[i]; r != nullptr) {
      if (invalid) {
        ++counts_.events_rejected_as_expected;
      } else {
        ++counts_.events_rejected_unexpectedly;
        if (samples_.size() < kMaxSamples) {
          samples_.push_back(absl::StrCat("event ", e.event_id(), " rejected: ", r->message()));
        }
      }
      continue;
    }
    if (invalid) {
      ++counts_.events_accepted_unexpectedly;
      if (samples_.size() < kMaxSamples) {
        samples_.push_back(absl::StrCat("event ", e.event_id(), " was broken on purpose (",
                                        e.ShortDebugString(), ") yet accepted"));
      }
      // Accepted means the pipeline counts it, so the windows must too.
    }
    ++counts_.events_accepted;
    auto series = windows_.find(keys[i]);
    if (series == windows_.end()) series = windows_.try_emplace(std::string(keys[i])).first;
    WindowTotals& w = series->second[FloorTo(e.timestamp().seconds(), kMinute)];
    ++w.count;
    w.sum += e.value();
  }
}

LedgerCounts Ledger::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

std::vector<LedgerWindow> Ledger::Windows(v1::WindowSize size) const {
  const int64_t width = size == v1::WINDOW_SIZE_5M ? kFiveMinutes : kMinute;
  std::vector<LedgerWindow> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, minutes] : windows_) {
    // Ordered by start, merged into the wider window when asked for 5 minutes.
    std::map<int64_t, WindowTotals> merged;
    for (const auto& [start, totals] : minutes) {
      WindowTotals& m = merged[FloorTo(start, width)];
      m.count += totals.count;
      m.sum += totals.sum;
    }
    for (const auto& [start, totals] : merged) {
      out.push_back(LedgerWindow{.series_key = key,
                                 .size = size,
                                 .start = absl::FromUnixSeconds(start),
                                 .totals = totals});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const LedgerWindow& a, const LedgerWindow& b) {
    return a.series_key < b.series_key;
  });
  return out;
}

double Ledger::LatencyMs(double q) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<double> v = latency_.Quantile(q);
  return v.ok() ? *v : 0;
}

double Ledger::TakeIntervalLatencyMs(double q) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<double> v = interval_latency_.Quantile(q);
  interval_latency_ = sketch::DDSketch();
  return v.ok() ? *v : 0;
}

std::vector<std::string> Ledger::samples() const {
  absl::MutexLock lock(&mu_);
  return samples_;
}

absl::Status Ledger::WriteCsv(const std::string& path) const {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "w"), &std::fclose);
  if (f == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write the ledger to ", path));
  }
  std::fputs("series_key,window_start,count,sum\n", f.get());
  for (const LedgerWindow& w : Windows(v1::WINDOW_SIZE_1M)) {
    // Series keys may hold commas: quoted as CSV wants, doubling any quote.
    std::string quoted = "\"";
    for (char c : w.series_key) {
      if (c == '"') quoted += '"';
      quoted += c;
    }
    quoted += '"';
    absl::FPrintF(f.get(), "%s,%s,%d,%.17g\n", quoted,
                  absl::FormatTime(w.start, absl::UTCTimeZone()), w.totals.count, w.totals.sum);
  }
  if (std::ferror(f.get()) != 0) {
    return absl::UnavailableError(absl::StrCat("writing the ledger to ", path, " failed"));
  }
  return absl::OkStatus();
}

}  // namespace streammetrics::loadgen
