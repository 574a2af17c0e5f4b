// PartitionWindows: see partition_windows.h.
//
// Time inside the engine is whole window indexes: minute m is the 1-minute window starting at
// m * 60 s since the epoch, five f the 5-minute window starting at f * 300 s. An event's minute is
// floor(timestamp.seconds / 60): nanos are in [0, 1e9), so they never cross a minute boundary,
// and the hot path needs no absl::Time arithmetic.
#include "aggregation-service/engine/partition_windows.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/partition_windows_state.h"
#include "aggregation-service/engine/window_keys.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/engine/window_numbers.h"

namespace streammetrics::aggregation {

using namespace partition_internal;  // NOLINT: this file is the engine's own internals.

void PartitionWindows::State::SetWatermark(absl::Time w) {
  watermark = w;
  first_open_minute = FirstOpenWindow(w, kMinuteSeconds);
  first_open_five = FirstOpenWindow(w, kFiveSeconds);
  while (!keys.empty() && keys.begin()->first < first_open_minute) {
    key_count -= keys.begin()->second->size();
    keys.erase(keys.begin());
  }
  last_keys = nullptr;
}

WindowKeys* PartitionWindows::State::KeysFor(int64_t minute) {
  if (last_keys != nullptr && last_keys_minute == minute) return last_keys;
  std::unique_ptr<WindowKeys>& slot = keys[minute];
  if (slot == nullptr) slot = std::make_unique<WindowKeys>();
  last_keys = slot.get();
  last_keys_minute = minute;
  return last_keys;
}

SeriesWindows* PartitionWindows::State::FindOrAddSeries(absl::string_view key,
                                                        const v1::Series* from_row,
                                                        const v1::MetricEvent* event) {
  auto it = series.find(key);
  if (it != series.end()) return &it->second;
  SeriesWindows& s = series[key];
  s.key = std::string(key);
  if (from_row != nullptr) {
    s.series = *from_row;
  } else {
    s.series.set_service_id(event->service_id());
    s.series.set_metric_name(event->metric_name());
    *s.series.mutable_tags() = event->tags();
  }
  return &s;
}

bool PartitionWindows::State::WouldOverflow(absl::string_view key, int64_t minute,
                                            uint64_t n) const {
  if (n > WindowNumbers::kMaxWindowCount) return true;
  auto it = series.find(key);
  if (it == series.end()) return false;
  for (auto m = it->second.minutes.rbegin(); m != it->second.minutes.rend(); ++m) {
    if (m->minute == minute) return m->numbers.count > WindowNumbers::kMaxWindowCount - n;
    if (m->minute < minute) break;
  }
  return false;
}

MinuteWindow* PartitionWindows::State::FindOrAddMinute(SeriesWindows* s, int64_t minute,
                                                       bool* added) {
  std::vector<MinuteWindow>& minutes = s->minutes;
  // From the back: events mostly fall in the newest window.
  size_t pos = minutes.size();
  while (pos > 0 && minutes[pos - 1].minute >= minute) {
    if (minutes[pos - 1].minute == minute) {
      *added = false;
      return &minutes[pos - 1];
    }
    --pos;
  }
  *added = true;
  const int64_t five = FloorDiv(minute, kMinutesPerFive);
  const bool five_held =
      (pos > 0 && FloorDiv(minutes[pos - 1].minute, kMinutesPerFive) == five) ||
      (pos < minutes.size() && FloorDiv(minutes[pos].minute, kMinutesPerFive) == five);
  if (!five_held) CountWindow(&five_windows, five, +1);
  CountWindow(&minute_windows, minute, +1);
  return &*minutes.emplace(minutes.begin() + static_cast<std::ptrdiff_t>(pos), minute, options);
}

uint64_t* PartitionWindows::State::FiveRevisionOf(SeriesWindows* s, int64_t five) {
  auto it = std::lower_bound(s->fives.begin(), s->fives.end(), five,
                             [](const FiveRevision& r, int64_t f) { return r.five < f; });
  if (it == s->fives.end() || it->five != five) it = s->fives.insert(it, FiveRevision{five, 0});
  return &it->revision;
}

v1::WindowAggregate PartitionWindows::State::Row(const SeriesWindows& s, v1::WindowSize size,
                                                 int64_t start_seconds, int64_t length_seconds,
                                                 const WindowNumbers& numbers, uint64_t revision,
                                                 bool is_final) const {
  v1::WindowAggregate row;
  *row.mutable_series() = s.series;
  row.set_series_key(s.key);
  row.set_window_size(size);
  *row.mutable_window_start() = SecondsProto(start_seconds);
  *row.mutable_window_end() = SecondsProto(start_seconds + length_seconds);
  SetNumbers(numbers, &row);
  row.set_is_final(is_final);
  row.set_revision(revision);
  return row;
}

bool PartitionWindows::State::Report(SeriesWindows* s, PartitionDelta* delta) {
  std::vector<MinuteWindow>& minutes = s->minutes;
  size_t begin = 0;
  while (begin < minutes.size()) {
    const int64_t five = FloorDiv(minutes[begin].minute, kMinutesPerFive);
    bool child_changed = false;
    size_t end = begin;
    for (; end < minutes.size() && FloorDiv(minutes[end].minute, kMinutesPerFive) == five; ++end) {
      MinuteWindow& w = minutes[end];
      const bool is_final = w.minute < first_open_minute;
      if (!w.changed && (!is_final || w.final_reported)) continue;
      child_changed = child_changed || w.changed;
      w.changed = false;
      w.final_reported = is_final;
      ++w.revision;
      delta->windows.push_back(Row(*s, v1::WINDOW_SIZE_1M, w.minute * kMinuteSeconds,
                                   kMinuteSeconds, w.numbers, w.revision, is_final));
    }
    const bool five_final = five < first_open_five;
    if (!child_changed && !five_final) {
      begin = end;
      continue;
    }
    // Starting from a copy of the first minute sizes the sketch's stores once, instead of
    // growing empty ones; the sum is then s1 + s2 + ..., the 1m sums added in window order.
    WindowNumbers merged = minutes[begin].numbers;
    for (size_t i = begin + 1; i < end; ++i) {
      // Every sketch here was made with, or checked against, the options' accuracy, and counts
      // cannot reach 2^64 - 1 in one window, so the merge cannot fail.
      const absl::Status merge = merged.Merge(minutes[i].numbers);
      assert(merge.ok());
      static_cast<void>(merge);
    }
    uint64_t* revision = FiveRevisionOf(s, five);
    ++*revision;
    delta->windows.push_back(Row(*s, v1::WINDOW_SIZE_5M, five * kFiveSeconds, kFiveSeconds, merged,
                                 *revision, five_final));
    if (!five_final) {
      begin = end;
      continue;
    }
    // Final for good: its minutes and its revision are not needed any more.
    for (size_t i = begin; i < end; ++i) CountWindow(&minute_windows, minutes[i].minute, -1);
    CountWindow(&five_windows, five, -1);
    minutes.erase(minutes.begin() + static_cast<std::ptrdiff_t>(begin),
                  minutes.begin() + static_cast<std::ptrdiff_t>(end));
    s->fives.erase(std::find_if(s->fives.begin(), s->fives.end(),
                                [five](const FiveRevision& r) { return r.five == five; }));
  }
  return minutes.empty() && s->fives.empty();
}

PartitionWindows::PartitionWindows(EngineOptions options)
    : state_(std::make_unique<State>(options)) {}

PartitionWindows::~PartitionWindows() = default;

AddOutcome PartitionWindows::Add(absl::string_view series_key, const v1::MetricEvent& event,
                                 const events::IdempotencyKey& key) {
  State& st = *state_;
  const int64_t seconds = event.timestamp().seconds();
  const int32_t nanos = event.timestamp().nanos();
  if (!st.have_newest || seconds > st.newest_seconds ||
      (seconds == st.newest_seconds && nanos > st.newest_nanos)) {
    st.have_newest = true;
    st.newest_seconds = seconds;
    st.newest_nanos = nanos;
  }
  const int64_t minute = FloorDiv(seconds, kMinuteSeconds);
  if (minute < st.first_open_minute) return AddOutcome::kLate;
  WindowKeys* keys = st.KeysFor(minute);
  if (event.has_distribution()) {
    // A duplicate first: a resent distribution that was counted is a duplicate, not an overflow.
    if (keys->Contains(key.client_id, key.sequence, key.event_index)) {
      return AddOutcome::kDuplicate;
    }
    if (st.WouldOverflow(series_key, minute, event.distribution().count())) {
      return AddOutcome::kOverflow;
    }
  }
  if (!keys->Insert(key.client_id, key.sequence, key.event_index, /*pending=*/true)) {
    return AddOutcome::kDuplicate;
  }
  ++st.key_count;
  SeriesWindows* s = st.FindOrAddSeries(series_key, nullptr, &event);
  bool added = false;
  MinuteWindow* w = st.FindOrAddMinute(s, minute, &added);
  if (event.has_distribution()) {
    // Cannot fail: WouldOverflow said the count fits, and the event was validated.
    w->numbers.AddDistribution(event.distribution()).IgnoreError();
  } else {
    w->numbers.Add(event.value());
  }
  w->changed = true;
  if (!s->listed) {
    s->listed = true;
    st.changed_series.push_back(s);
  }
  return AddOutcome::kCounted;
}

void PartitionWindows::Advance(absl::Time now, bool idle) {
  State& st = *state_;
  absl::Time to = now;
  if (!idle) {
    to = st.have_newest ? std::min(to, absl::FromUnixSeconds(st.newest_seconds) +
                                           absl::Nanoseconds(st.newest_nanos))
                        : absl::InfinitePast();
  }
  to -= st.options.allowed_lateness;
  if (to > st.watermark) st.SetWatermark(to);
}

PartitionDelta PartitionWindows::TakeDelta() {
  State& st = *state_;
  PartitionDelta delta;
  std::vector<SeriesWindows*> emptied;
  const bool scan_all = st.scan_all || st.first_open_minute != st.reported_first_open_minute;
  // Most series report one 1m and one 5m row; reserving avoids copying rows while growing.
  delta.windows.reserve(2 * (scan_all ? st.series.size() : st.changed_series.size()));
  if (scan_all) {
    for (auto& [unused, s] : st.series) {
      if (st.Report(&s, &delta)) emptied.push_back(&s);
      s.listed = false;
    }
    st.scan_all = false;
    st.reported_first_open_minute = st.first_open_minute;
  } else {
    for (SeriesWindows* s : st.changed_series) {
      if (st.Report(s, &delta)) emptied.push_back(s);
      s->listed = false;
    }
  }
  st.changed_series.clear();
  for (SeriesWindows* s : emptied) st.series.erase(st.series.find(s->key));

  for (auto& [minute, window_keys] : st.keys) {
    if (window_keys->has_pending()) {
      delta.dedup_added.push_back(
          DedupChunk{absl::FromUnixSeconds(minute * kMinuteSeconds), window_keys->TakePending()});
    }
  }
  delta.dedup_release_before = WindowStart(st.watermark, absl::Minutes(1));
  delta.watermark = st.watermark;
  return delta;
}

absl::Time PartitionWindows::watermark() const { return state_->watermark; }

size_t PartitionWindows::open_windows() const {
  return CountFrom(state_->minute_windows, state_->first_open_minute) +
         CountFrom(state_->five_windows, state_->first_open_five);
}

size_t PartitionWindows::dedup_keys() const { return state_->key_count; }

}  // namespace streammetrics::aggregation
