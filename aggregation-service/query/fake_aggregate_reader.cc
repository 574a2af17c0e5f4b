// FakeAggregateReader (see the header).
#include "aggregation-service/query/fake_aggregate_reader.h"

#include <utility>

#include "aggregation-service/engine/window_math.h"
#include "lib/common/status_macros.h"

namespace streammetrics::aggregation {

void FakeAggregateReader::Put(const v1::WindowAggregate& window) {
  absl::MutexLock lock(&mu_);
  windows_[Key(window.window_size(), absl::ToUnixMicros(TimeFromProto(window.window_start())),
               window.series_key())] = window;
}

void FakeAggregateReader::SetFailure(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

int FakeAggregateReader::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakeAggregateReader::Hold(bool held) {
  absl::MutexLock lock(&mu_);
  held_ = held;
}

int FakeAggregateReader::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

absl::Status FakeAggregateReader::Call() {
  absl::MutexLock lock(&mu_);
  ++started_;
  mu_.Await(absl::Condition(
      +[](bool* held) { return !*held; }, &held_));
  ++calls_;
  return failure_;
}

absl::StatusOr<std::vector<v1::WindowAggregate>> FakeAggregateReader::QueryWindows(
    const WindowQuery& query) {
  RETURN_IF_ERROR(Call());
  absl::MutexLock lock(&mu_);
  std::vector<v1::WindowAggregate> out;
  const Key from(query.window_size, absl::ToUnixMicros(query.start), "");
  for (auto it = windows_.lower_bound(from); it != windows_.end(); ++it) {
    const auto& [size, start, key] = it->first;
    const v1::WindowAggregate& w = it->second;
    if (size != query.window_size || start >= absl::ToUnixMicros(query.end)) break;
    if (static_cast<int>(out.size()) >= query.limit) break;
    if (query.after.has_value() &&
        std::make_pair(start, key) <= std::make_pair(absl::ToUnixMicros(query.after->window_start),
                                                     query.after->series_key)) {
      continue;
    }
    if (w.series().service_id() != query.service_id) continue;
    if (!query.metric_name.empty() && w.series().metric_name() != query.metric_name) continue;
    bool tags_match = true;
    for (const auto& [tag, value] : query.tags) {
      auto found = w.series().tags().find(tag);
      tags_match = tags_match && found != w.series().tags().end() && found->second == value;
    }
    if (!tags_match) continue;
    out.push_back(w);
    if (!query.include_sketch) out.back().clear_sketch();
  }
  return out;
}

absl::StatusOr<std::optional<v1::WindowAggregate>> FakeAggregateReader::LatestWindow(
    const LatestQuery& query) {
  RETURN_IF_ERROR(Call());
  absl::MutexLock lock(&mu_);
  std::optional<v1::WindowAggregate> newest;
  for (const auto& [key, w] : windows_) {
    if (w.series_key() != query.series_key || w.window_size() != query.window_size) continue;
    if (query.final_only && !w.is_final()) continue;
    newest = w;  // the map is in start order within a size
  }
  if (newest.has_value()) newest->clear_sketch();
  return newest;
}

absl::StatusOr<std::vector<v1::SeriesInfo>> FakeAggregateReader::ListSeries(
    const SeriesQuery& query) {
  RETURN_IF_ERROR(Call());
  absl::MutexLock lock(&mu_);
  // (metric name, series key) -> newest 1-minute start, as metrics.series keeps it.
  std::map<std::pair<std::string, std::string>, v1::SeriesInfo> series;
  for (const auto& [key, w] : windows_) {
    if (w.window_size() != v1::WINDOW_SIZE_1M) continue;
    if (w.series().service_id() != query.service_id) continue;
    if (!query.metric_name.empty() && w.series().metric_name() != query.metric_name) continue;
    std::pair<std::string, std::string> order(w.series().metric_name(), w.series_key());
    if (query.after.has_value() &&
        order <= std::make_pair(query.after->metric_name, query.after->series_key)) {
      continue;
    }
    v1::SeriesInfo& info = series[order];
    *info.mutable_series() = w.series();
    info.set_series_key(w.series_key());
    *info.mutable_last_window_start() = w.window_start();
  }
  std::vector<v1::SeriesInfo> out;
  for (auto& [order, info] : series) {
    if (static_cast<int>(out.size()) >= query.limit) break;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace streammetrics::aggregation
