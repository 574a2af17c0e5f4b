// PartitionWindows: see partition_windows.h.
//
// Time inside the engine is whole window indexes: minute m is the 1-minute window starting at
// m * 60 s since the epoch, five f the 5-minute window starting at f * 300 s. An event's minute is
// floor(timestamp.seconds / 60): nanos are in [0, 1e9), so they never cross a minute boundary,
// and the hot path needs no absl::Time arithmetic.
#include "aggregation-service/partition_windows.h"

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
#include "aggregation-service/window_keys.h"
#include "aggregation-service/window_math.h"
#include "aggregation-service/window_numbers.h"

namespace streammetrics::aggregation {
namespace {

constexpr int64_t kMinuteSeconds = 60;
constexpr int64_t kFiveSeconds = 300;
constexpr int64_t kMinutesPerFive = 5;

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// The index of the first window of `length_seconds` that is not final at `watermark`: windows
// before it end at or before the watermark.
int64_t FirstOpenWindow(absl::Time watermark, int64_t length_seconds) {
  if (watermark == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (watermark == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  // ToUnixSeconds floors, and flooring twice by whole seconds is flooring once.
  return FloorDiv(absl::ToUnixSeconds(watermark), length_seconds);
}

google::protobuf::Timestamp SecondsProto(int64_t seconds) {
  google::protobuf::Timestamp proto;
  proto.set_seconds(seconds);
  return proto;
}

struct MinuteWindow {
  MinuteWindow(int64_t m, const EngineOptions& options)
      : minute(m), numbers(options.relative_accuracy, options.max_sketch_buckets) {}

  int64_t minute;
  WindowNumbers numbers;
  // Of the last row reported (or restored); 0 before the first.
  uint64_t revision = 0;
  // The numbers changed since that row.
  bool changed = false;
  // A row with is_final was reported (or restored): the window is kept only for its 5-minute
  // window and is never reported again.
  bool final_reported = false;
};

struct FiveRevision {
  int64_t five;
  uint64_t revision;
};

struct SeriesWindows {
  std::string key;
  v1::Series series;
  // Ascending by minute, so the minutes of one 5-minute window are adjacent.
  std::vector<MinuteWindow> minutes;
  // Revisions of the 5-minute windows reported (or restored) and not final yet, ascending.
  std::vector<FiveRevision> fives;
  // Listed in State::changed_series since the last TakeDelta.
  bool listed = false;
};

void CountWindow(std::map<int64_t, size_t>* counts, int64_t index, int delta) {
  size_t& n = (*counts)[index];
  n += delta;
  if (n == 0) counts->erase(index);
}

size_t CountFrom(const std::map<int64_t, size_t>& counts, int64_t first) {
  size_t n = 0;
  for (auto it = counts.lower_bound(first); it != counts.end(); ++it) n += it->second;
  return n;
}

// RFC 3339 in UTC with a "Z", as operators read it in logs.
std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

std::string WindowName(absl::string_view size, int64_t start_seconds, absl::string_view key) {
  return absl::StrCat(size, " window at ", FormatUtc(absl::FromUnixSeconds(start_seconds)),
                      " of series \"", key, "\"");
}

}  // namespace

struct PartitionWindows::State {
  explicit State(const EngineOptions& engine_options) : options(engine_options) {}

  // Moves the watermark to `w` (not checked to be later) and forgets the keys of windows that
  // became final: any event for them is late from now on.
  void SetWatermark(absl::Time w);
  WindowKeys* KeysFor(int64_t minute);
  // The series of `key`; when new, its v1::Series is copied from `from_row` if set (Restore),
  // else read from `event` (Add), so it is built once per series, not per event.
  SeriesWindows* FindOrAddSeries(absl::string_view key, const v1::Series* from_row,
                                 const v1::MetricEvent* event);
  // The window of `minute` in `s`, created (and counted) if missing; *added tells which.
  MinuteWindow* FindOrAddMinute(SeriesWindows* s, int64_t minute, bool* added);
  // The revision of 5-minute window `five` of `s`, created at 0 if missing.
  uint64_t* FiveRevisionOf(SeriesWindows* s, int64_t five);
  // Appends to `delta` the rows of `s` that changed or became final, and drops what is final for
  // good. Returns true when `s` holds nothing any more.
  bool Report(SeriesWindows* s, PartitionDelta* delta);
  v1::WindowAggregate Row(const SeriesWindows& s, v1::WindowSize size, int64_t start_seconds,
                          int64_t length_seconds, const WindowNumbers& numbers, uint64_t revision,
                          bool is_final) const;
  // Restore's parts, on a fresh State; the error says what is wrong, not which row (the caller
  // prefixes it). Rows need aligned bounds (checked by the caller); 5-minute rows need their
  // minutes restored first.
  absl::Status RestoreMinute(const v1::WindowAggregate& row, int64_t start_seconds);
  absl::Status RestoreFive(const v1::WindowAggregate& row, int64_t start_seconds);
  absl::Status Restore(const PartitionSnapshot& snapshot);

  EngineOptions options;
  absl::Time watermark = absl::InfinitePast();
  int64_t first_open_minute = std::numeric_limits<int64_t>::min();
  int64_t first_open_five = std::numeric_limits<int64_t>::min();
  // first_open_minute at the last TakeDelta: when it moved, every series may have windows to
  // finalize, otherwise only the changed ones need a look.
  int64_t reported_first_open_minute = std::numeric_limits<int64_t>::min();
  bool scan_all = false;
  // Newest event time seen, kept as the Timestamp's parts so Add compares two integers.
  bool have_newest = false;
  int64_t newest_seconds = 0;
  int32_t newest_nanos = 0;

  // Nodes: SeriesWindows never move, so changed_series may point at them, and a lookup reaches
  // the key and the series in one node.
  absl::node_hash_map<std::string, SeriesWindows> series;
  std::vector<SeriesWindows*> changed_series;
  // Keys by minute; every minute here is open (SetWatermark drops the others).
  std::map<int64_t, std::unique_ptr<WindowKeys>> keys;
  WindowKeys* last_keys = nullptr;
  int64_t last_keys_minute = 0;
  size_t key_count = 0;
  // Windows in memory per minute and per five (a five counts once per series), for open_windows.
  std::map<int64_t, size_t> minute_windows;
  std::map<int64_t, size_t> five_windows;
};

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

absl::Status PartitionWindows::State::RestoreMinute(const v1::WindowAggregate& row,
                                                    int64_t start_seconds) {
  const int64_t minute = start_seconds / kMinuteSeconds;
  const bool five_final = FloorDiv(minute, kMinutesPerFive) < first_open_five;
  if (row.is_final() && five_final) return absl::OkStatus();  // Not needed any more.
  if (row.is_final() && minute >= first_open_minute) {
    return absl::InvalidArgumentError("final but ends after the watermark");
  }
  absl::StatusOr<WindowNumbers> numbers =
      NumbersFromRow(row, options.relative_accuracy, options.max_sketch_buckets);
  if (!numbers.ok()) return numbers.status();
  SeriesWindows* s = FindOrAddSeries(row.series_key(), &row.series(), nullptr);
  bool added = false;
  MinuteWindow* w = FindOrAddMinute(s, minute, &added);
  if (!added) return absl::InvalidArgumentError("stored twice");
  w->numbers = *std::move(numbers);
  w->revision = row.revision();
  w->final_reported = row.is_final();
  return absl::OkStatus();
}

absl::Status PartitionWindows::State::RestoreFive(const v1::WindowAggregate& row,
                                                  int64_t start_seconds) {
  if (row.is_final()) return absl::OkStatus();  // Never reported again.
  const int64_t five = start_seconds / kFiveSeconds;
  auto it = series.find(row.series_key());
  const bool has_minute =
      it != series.end() && std::any_of(it->second.minutes.begin(), it->second.minutes.end(),
                                        [five](const MinuteWindow& w) {
                                          return FloorDiv(w.minute, kMinutesPerFive) == five;
                                        });
  // Its merge is all there is to a 5-minute window: without a minute it could not be reported.
  if (!has_minute) return absl::InvalidArgumentError("open, but none of its 1m windows is");
  uint64_t* revision = FiveRevisionOf(&it->second, five);
  if (*revision != 0) return absl::InvalidArgumentError("stored twice");
  *revision = row.revision();
  return absl::OkStatus();
}

absl::Status PartitionWindows::State::Restore(const PartitionSnapshot& snapshot) {
  SetWatermark(snapshot.watermark);
  reported_first_open_minute = first_open_minute;
  // A consistent snapshot has nothing to report, but an open row the watermark already passed
  // must still be reported final: one scan finds it.
  scan_all = true;
  // Minutes first, so each 5-minute row finds the minutes it merges.
  for (const bool five_pass : {false, true}) {
    for (const v1::WindowAggregate& row : snapshot.windows) {
      const bool is_five = row.window_size() == v1::WINDOW_SIZE_5M;
      if (is_five != five_pass) continue;
      const absl::Time start = TimeFromProto(row.window_start());
      const int64_t length = absl::ToInt64Seconds(WindowLength(row.window_size()));
      const std::string name = WindowName(WindowSizeName(row.window_size()),
                                          row.window_start().seconds(), row.series_key());
      absl::Status status;
      if (length == 0) {
        status = absl::InvalidArgumentError(absl::StrCat("window size ", row.window_size()));
      } else if (row.series_key().empty()) {
        status = absl::InvalidArgumentError("empty series key");
      } else if (WindowStart(start, absl::Seconds(length)) != start ||
                 TimeFromProto(row.window_end()) != start + absl::Seconds(length)) {
        status = absl::InvalidArgumentError("bounds not aligned to its size");
      } else if (is_five) {
        status = RestoreFive(row, row.window_start().seconds());
      } else {
        status = RestoreMinute(row, row.window_start().seconds());
      }
      if (!status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", status.message()));
      }
    }
  }
  for (const DedupChunk& chunk : snapshot.dedup) {
    const std::string name = absl::StrCat("dedup chunk of ", FormatUtc(chunk.window_start));
    if (WindowStart(chunk.window_start, absl::Minutes(1)) != chunk.window_start ||
        chunk.window_start == absl::InfinitePast() ||
        chunk.window_start == absl::InfiniteFuture()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": not a 1m window start"));
    }
    const int64_t minute = absl::ToUnixSeconds(chunk.window_start) / kMinuteSeconds;
    // A chunk of a final window may outlive its release by a checkpoint; its keys are moot.
    if (minute < first_open_minute) continue;
    WindowKeys* window_keys = KeysFor(minute);
    const size_t before = window_keys->size();
    if (absl::Status status = window_keys->InsertSerialized(chunk.keys); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", status.message()));
    }
    key_count += window_keys->size() - before;
  }
  return absl::OkStatus();
}

PartitionWindows::PartitionWindows(EngineOptions options)
    : state_(std::make_unique<State>(options)) {}

PartitionWindows::~PartitionWindows() = default;

absl::Status PartitionWindows::Restore(const PartitionSnapshot& snapshot) {
  auto restored = std::make_unique<State>(state_->options);
  absl::Status status = restored->Restore(snapshot);
  state_ = status.ok() ? std::move(restored) : std::make_unique<State>(state_->options);
  return status;
}

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
  if (!st.KeysFor(minute)->Insert(key.client_id, key.sequence, key.event_index,
                                  /*pending=*/true)) {
    return AddOutcome::kDuplicate;
  }
  ++st.key_count;
  SeriesWindows* s = st.FindOrAddSeries(series_key, nullptr, &event);
  bool added = false;
  MinuteWindow* w = st.FindOrAddMinute(s, minute, &added);
  w->numbers.Add(event.value());
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
