// PartitionWindows' restore path: rebuilding the open windows, their revisions and their keys
// from a checkpoint's snapshot (see partition_windows.h). The hot path is partition_windows.cc.
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/partition_windows.h"
#include "aggregation-service/engine/partition_windows_state.h"
#include "aggregation-service/engine/window_math.h"

namespace streammetrics::aggregation {

using namespace partition_internal;  // NOLINT: this file is the engine's own internals.

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

absl::Status PartitionWindows::Restore(const PartitionSnapshot& snapshot) {
  auto restored = std::make_unique<State>(state_->options);
  absl::Status status = restored->Restore(snapshot);
  state_ = status.ok() ? std::move(restored) : std::make_unique<State>(state_->options);
  return status;
}

}  // namespace streammetrics::aggregation
