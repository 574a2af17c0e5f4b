// QueryHandler (see the header).
#include "aggregation-service/query/query_handler.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/engine/window_numbers.h"
#include "lib/common/log.h"
#include "lib/common/redacted_error.h"
#include "lib/common/status_macros.h"
#include "lib/sketch/ddsketch.h"

namespace streammetrics::aggregation {
namespace {

// Windows read per round trip while merging a Summarize: bounds memory, whatever the range.
constexpr int kSummarizePage = 2000;

// A reader's answer as the caller may see it: PostgreSQL's own words (a connection string's
// host, a statement) stay in the log (RedactedError).
template <typename T>
absl::StatusOr<T> Stored(absl::StatusOr<T> read) {
  if (read.ok()) return read;
  return RedactedError(read.status(), "the aggregate store");
}

}  // namespace

QueryHandler::QueryHandler(QueryLimits limits, QueryHandlerDeps deps)
    : limits_(std::move(limits)), deps_(std::move(deps)) {}

absl::StatusOr<v1::QueryAggregatesResponse> QueryHandler::QueryAggregates(
    const v1::QueryAggregatesRequest& request) {
  ASSIGN_OR_RETURN(WindowQuery query, ParseQueryAggregates(request, limits_));
  ASSIGN_OR_RETURN(const absl::Time retained_start,
                   RetainedStart(limits_.retention, query.window_size, query.start, query.end,
                                 deps_.clock->Now()));
  const bool truncated = retained_start > query.start;
  query.start = retained_start;
  const int page_size = query.limit;
  // One more than the page: whether there is a next page, without an empty last page.
  query.limit = page_size + 1;
  ASSIGN_OR_RETURN(std::vector<v1::WindowAggregate> windows,
                   Stored(deps_.reader->QueryWindows(query)));
  v1::QueryAggregatesResponse response;
  if (truncated) *response.mutable_retained_from() = TimeToProto(retained_start);
  const bool more = static_cast<int>(windows.size()) > page_size;
  if (more) windows.resize(page_size);
  for (v1::WindowAggregate& w : windows) *response.add_windows() = std::move(w);
  if (more) {
    response.set_next_page_token(
        NextWindowsToken(request, response.windows(response.windows_size() - 1), limits_));
  }
  return response;
}

absl::StatusOr<v1::GetLatestResponse> QueryHandler::GetLatest(const v1::GetLatestRequest& request) {
  ASSIGN_OR_RETURN(LatestQuery query, ParseGetLatest(request, limits_));
  v1::GetLatestResponse response;
  if (deps_.cache != nullptr) {
    absl::StatusOr<std::optional<v1::WindowAggregate>> cached =
        deps_.cache->GetLatest(query.series_key, query.window_size, query.final_only);
    if (cached.ok() && cached->has_value()) {
      deps_.metrics->CacheHit();
      *response.mutable_window() = **std::move(cached);
      response.set_source(v1::DATA_SOURCE_CACHE);
      return response;
    }
    if (cached.ok()) {
      deps_.metrics->CacheMiss();
    } else {
      deps_.metrics->CacheError();
    }
  }
  ASSIGN_OR_RETURN(std::optional<v1::WindowAggregate> stored,
                   Stored(deps_.reader->LatestWindow(query)));
  if (!stored.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("series ", query.series_key, " has no ", query.final_only ? "final " : "",
                     WindowSizeName(query.window_size),
                     " window: check service_id, metric_name and the exact tags with ListSeries"));
  }
  // Only the newest window may fill the cache: the writer files a final window as its series'
  // newest too, and the newest final one may be older than an open window after it.
  if (deps_.fill_cache && !query.final_only) deps_.fill_cache({*stored});
  *response.mutable_window() = *std::move(stored);
  response.set_source(v1::DATA_SOURCE_DATABASE);
  return response;
}

absl::StatusOr<v1::ListSeriesResponse> QueryHandler::ListSeries(
    const v1::ListSeriesRequest& request) {
  ASSIGN_OR_RETURN(SeriesQuery query, ParseListSeries(request, limits_));
  const int page_size = query.limit;
  query.limit = page_size + 1;
  ASSIGN_OR_RETURN(std::vector<v1::SeriesInfo> series, Stored(deps_.reader->ListSeries(query)));
  v1::ListSeriesResponse response;
  const bool more = static_cast<int>(series.size()) > page_size;
  if (more) series.resize(page_size);
  for (v1::SeriesInfo& s : series) *response.add_series() = std::move(s);
  if (more) {
    response.set_next_page_token(
        NextSeriesToken(request, response.series(response.series_size() - 1), limits_));
  }
  return response;
}

absl::StatusOr<v1::SummarizeResponse> QueryHandler::Summarize(
    const v1::SummarizeRequest& request, absl::Time deadline,
    const std::function<bool()>& cancelled) {
  ASSIGN_OR_RETURN(SummaryQuery summary, ParseSummarize(request, limits_));
  ASSIGN_OR_RETURN(summary.start, RetainedStart(limits_.retention, v1::WINDOW_SIZE_1M,
                                                summary.start, summary.end, deps_.clock->Now()));
  WindowQuery query;
  query.service_id = summary.service_id;
  query.metric_name = summary.metric_name;
  query.tags = summary.tags;
  query.window_size = v1::WINDOW_SIZE_1M;
  query.start = summary.start;
  query.end = summary.end;
  query.limit = kSummarizePage;
  query.include_sketch = true;

  std::optional<WindowNumbers> total;
  std::set<std::string> series;
  uint64_t windows = 0;
  bool open = false;
  while (true) {
    if (cancelled && cancelled()) {
      return absl::CancelledError("the call was cancelled while its windows were being merged");
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "merged ", windows, " windows of ", series.size(),
          " series before the deadline and there are more: narrow the range or the tags, or "
          "allow a longer deadline"));
    }
    ASSIGN_OR_RETURN(std::vector<v1::WindowAggregate> page,
                     Stored(deps_.reader->QueryWindows(query)));
    for (const v1::WindowAggregate& w : page) {
      const double accuracy = w.sketch().relative_accuracy();
      absl::StatusOr<WindowNumbers> numbers =
          NumbersFromRow(w, accuracy, sketch::DDSketch::kDefaultMaxBuckets);
      if (!numbers.ok()) {
        return absl::DataLossError(absl::StrCat("stored window ", w.series_key(), " at ",
                                                absl::FormatTime(TimeFromProto(w.window_start())),
                                                ": ", numbers.status().message()));
      }
      if (!total.has_value()) {
        total.emplace(accuracy, sketch::DDSketch::kDefaultMaxBuckets);
      }
      absl::Status merged = total->Merge(*numbers);
      if (absl::IsOutOfRange(merged)) {
        // Only pre-aggregated distributions of absurd counts get here (2^64 values).
        return absl::OutOfRangeError(absl::StrCat("the range holds more values than a count can ",
                                                  "hold (", merged.message(),
                                                  "): summarize a shorter range"));
      }
      if (!merged.ok()) {
        // Windows of other accuracies cannot be merged into one answer with one stated error.
        return absl::FailedPreconditionError(
            absl::StrCat("the windows in range were sketched with different accuracies (",
                         merged.message(), "): summarize a range written with one setting"));
      }
      ++windows;
      series.insert(w.series_key());
      open = open || !w.is_final();
    }
    if (static_cast<int>(page.size()) < query.limit) break;
    const v1::WindowAggregate& last = page.back();
    query.after = WindowCursor{TimeFromProto(last.window_start()), last.series_key()};
  }

  v1::SummarizeResponse response;
  *response.mutable_effective_start() = TimeToProto(summary.start);
  *response.mutable_effective_end() = TimeToProto(summary.end);
  response.set_windows_merged(windows);
  response.set_series_merged(series.size());
  response.set_includes_open_windows(open);
  if (!total.has_value() || total->count == 0) {
    response.set_relative_accuracy(sketch::DDSketch::kDefaultRelativeAccuracy);
    for (double q : summary.quantiles) {
      v1::QuantileValue* v = response.add_quantiles();
      v->set_quantile(q);
    }
    return response;
  }
  response.set_count(total->count);
  response.set_sum(total->sum);
  response.set_avg(total->sum / static_cast<double>(total->count));
  response.set_min(total->min);
  response.set_max(total->max);
  response.set_relative_accuracy(total->sketch.relative_accuracy());
  for (double q : summary.quantiles) {
    absl::StatusOr<double> value = total->sketch.Quantile(q);
    if (!value.ok()) return value.status();
    v1::QuantileValue* v = response.add_quantiles();
    v->set_quantile(q);
    // As in every window (window_numbers.h): the estimate never leaves the exact [min, max].
    v->set_value(std::clamp(*value, total->min, total->max));
  }
  return response;
}

}  // namespace streammetrics::aggregation
