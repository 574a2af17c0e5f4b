// The state behind PartitionWindows, shared by its two source files: partition_windows.cc (the
// hot path: Add, Advance, TakeDelta) and partition_windows_restore.cc (rebuilding the state from
// a checkpoint). Internal to the window engine: nothing outside those two files includes it.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_PARTITION_WINDOWS_STATE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_PARTITION_WINDOWS_STATE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aggregation-service/engine/partition_windows.h"
#include "aggregation-service/engine/window_keys.h"
#include "aggregation-service/engine/window_numbers.h"

namespace streammetrics::aggregation {
namespace partition_internal {

constexpr int64_t kMinuteSeconds = 60;
constexpr int64_t kFiveSeconds = 300;
constexpr int64_t kMinutesPerFive = 5;

inline int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// The index of the first window of `length_seconds` that is not final at `watermark`: windows
// before it end at or before the watermark.
inline int64_t FirstOpenWindow(absl::Time watermark, int64_t length_seconds) {
  if (watermark == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (watermark == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  // ToUnixSeconds floors, and flooring twice by whole seconds is flooring once.
  return FloorDiv(absl::ToUnixSeconds(watermark), length_seconds);
}

inline google::protobuf::Timestamp SecondsProto(int64_t seconds) {
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

inline void CountWindow(std::map<int64_t, size_t>* counts, int64_t index, int delta) {
  size_t& n = (*counts)[index];
  n += delta;
  if (n == 0) counts->erase(index);
}

inline size_t CountFrom(const std::map<int64_t, size_t>& counts, int64_t first) {
  size_t n = 0;
  for (auto it = counts.lower_bound(first); it != counts.end(); ++it) n += it->second;
  return n;
}

// RFC 3339 in UTC with a "Z", as operators read it in logs.
inline std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

inline std::string WindowName(absl::string_view size, int64_t start_seconds,
                              absl::string_view key) {
  return absl::StrCat(size, " window at ", FormatUtc(absl::FromUnixSeconds(start_seconds)),
                      " of series \"", key, "\"");
}

}  // namespace partition_internal

struct PartitionWindows::State {
  explicit State(const EngineOptions& engine_options) : options(engine_options) {}

  // Moves the watermark to `w` (not checked to be later) and forgets the keys of windows that
  // became final: any event for them is late from now on.
  void SetWatermark(absl::Time w);
  WindowKeys* KeysFor(int64_t minute);
  // The series of `key`; when new, its v1::Series is copied from `from_row` if set (Restore),
  // else read from `event` (Add), so it is built once per series, not per event.
  partition_internal::SeriesWindows* FindOrAddSeries(absl::string_view key,
                                                     const v1::Series* from_row,
                                                     const v1::MetricEvent* event);
  // True when adding a distribution of `n` values would take the 1-minute window `minute` of
  // series `key` past WindowNumbers::kMaxWindowCount. Creates nothing.
  bool WouldOverflow(absl::string_view key, int64_t minute, uint64_t n) const;
  // The window of `minute` in `s`, created (and counted) if missing; *added tells which.
  partition_internal::MinuteWindow* FindOrAddMinute(partition_internal::SeriesWindows* s,
                                                    int64_t minute, bool* added);
  // The revision of 5-minute window `five` of `s`, created at 0 if missing.
  uint64_t* FiveRevisionOf(partition_internal::SeriesWindows* s, int64_t five);
  // Appends to `delta` the rows of `s` that changed or became final, and drops what is final for
  // good. Returns true when `s` holds nothing any more.
  bool Report(partition_internal::SeriesWindows* s, PartitionDelta* delta);
  v1::WindowAggregate Row(const partition_internal::SeriesWindows& s, v1::WindowSize size,
                          int64_t start_seconds, int64_t length_seconds,
                          const WindowNumbers& numbers, uint64_t revision, bool is_final) const;
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

  // Nodes: partition_internal::SeriesWindows never move, so changed_series may point at them, and a
  // lookup reaches the key and the series in one node.
  absl::node_hash_map<std::string, partition_internal::SeriesWindows> series;
  std::vector<partition_internal::SeriesWindows*> changed_series;
  // Keys by minute; every minute here is open (SetWatermark drops the others).
  std::map<int64_t, std::unique_ptr<WindowKeys>> keys;
  WindowKeys* last_keys = nullptr;
  int64_t last_keys_minute = 0;
  size_t key_count = 0;
  // Windows in memory per minute and per five (a five counts once per series), for open_windows.
  std::map<int64_t, size_t> minute_windows;
  std::map<int64_t, size_t> five_windows;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_PARTITION_WINDOWS_STATE_H_
