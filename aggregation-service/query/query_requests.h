// QueryService requests, checked and normalized: every rule a request must follow (the
// INVALID_ARGUMENT answers, each a sentence that says what to fix), the keyset page tokens, and
// the plain structs the store and the handler work with. Pure code, no I/O.
//
// Page tokens are keyset cursors, not offsets: a page starts strictly after the last row of the
// previous one in the answer's order, so rows inserted meanwhile never shift a page and every row
// present throughout is returned exactly once. A token carries a fingerprint of the request's
// filter, so it cannot be replayed against another query, and is signed (PageTokenKeys), so it
// cannot be forged or edited.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_REQUESTS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_REQUESTS_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aggregation-service/query/page_token_keys.h"
#include "aggregation-service/store/retention.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/query.pb.h"

namespace streammetrics::aggregation {

struct QueryLimits {
  // Longest [start, end) of QueryAggregates and Summarize.
  absl::Duration max_span = absl::Hours(24 * 31);
  // page_size 0 means this; larger ones are refused.
  int default_page_size = 100;
  int max_page_size = 1000;
  // Tag filters: most pairs, longest key and value (the ingest service's event limits).
  size_t max_tags = 16;
  size_t max_tag_key_length = 64;
  size_t max_tag_value_length = 256;
  // The columns' widths (VARCHAR(100), VARCHAR(200)).
  size_t max_service_id_length = 100;
  size_t max_metric_name_length = 200;
  // Most quantiles one Summarize may ask for.
  size_t max_quantiles = 32;
  // Longest page_token accepted. A cursor holds at most a series key (about 5.5 KiB at the event
  // limits) and a few numbers, base64-encoded with its MAC.
  size_t max_page_token_length = 8 << 10;
  // The keys page tokens are signed with (PageTokenKeys): configured, so tokens work on every
  // instance, or one random key per process.
  PageTokenKeys page_token_keys = PageTokenKeys::Random();
  // What the partition maintainer keeps (the service's own setting): QueryAggregates and
  // Summarize answer from RetainedFrom on and say so, instead of returning a silent gap.
  RetentionPolicy retention;
};

// Rows after this one, in (window start, series key) order.
struct WindowCursor {
  absl::Time window_start;
  std::string series_key;
};

// QueryAggregates, normalized: windows of `window_size` of `service_id` (and `metric_name` when
// not empty) whose series tags include every pair of `tags`, with start in [start, end), after
// `after`, in (window start, series key) order, at most `limit`.
struct WindowQuery {
  std::string service_id;
  std::string metric_name;
  std::map<std::string, std::string> tags;
  v1::WindowSize window_size = v1::WINDOW_SIZE_UNSPECIFIED;
  absl::Time start;
  absl::Time end;
  std::optional<WindowCursor> after;
  int limit = 0;
  bool include_sketch = false;
};

// Series after this one, in (metric name, series key) order.
struct SeriesCursor {
  std::string metric_name;
  std::string series_key;
};

struct SeriesQuery {
  std::string service_id;
  std::string metric_name;
  std::optional<SeriesCursor> after;
  int limit = 0;
};

struct LatestQuery {
  // The series' canonical key (lib/events/series_key.h).
  std::string series_key;
  v1::WindowSize window_size = v1::WINDOW_SIZE_UNSPECIFIED;
  bool final_only = false;
};

// Summarize over the 1-minute windows of [start, end), already rounded outwards to minutes.
struct SummaryQuery {
  std::string service_id;
  std::string metric_name;
  std::map<std::string, std::string> tags;
  absl::Time start;
  absl::Time end;
  std::vector<double> quantiles;
};

struct WatchFilter {
  std::string service_id;
  // Empty: every metric.
  std::string metric_name;
  // WINDOW_SIZE_UNSPECIFIED: both sizes.
  v1::WindowSize window_size = v1::WINDOW_SIZE_UNSPECIFIED;

  bool Matches(const v1::WindowAggregate& window) const;
};

// Each Parse* returns the normalized request, or InvalidArgument with a sentence naming the field
// and what to send instead (control characters in service_id, metric_name and tags included). A
// page token is checked too: too long, malformed, not signed by our keys, issued by another RPC,
// or for a request with other filter fields.
absl::StatusOr<WindowQuery> ParseQueryAggregates(const v1::QueryAggregatesRequest& request,
                                                 const QueryLimits& limits);
absl::StatusOr<SeriesQuery> ParseListSeries(const v1::ListSeriesRequest& request,
                                            const QueryLimits& limits);
absl::StatusOr<LatestQuery> ParseGetLatest(const v1::GetLatestRequest& request,
                                           const QueryLimits& limits);
absl::StatusOr<SummaryQuery> ParseSummarize(const v1::SummarizeRequest& request,
                                            const QueryLimits& limits);
absl::StatusOr<WatchFilter> ParseWatch(const v1::WatchAggregatesRequest& request,
                                       const QueryLimits& limits);

// The page size a request asks for (its page_size, or the default for 0). Precondition: the
// request passed its Parse*.
int PageSize(int32_t requested, const QueryLimits& limits);

// The token for the page after `last`, the last row of this page of `request`, signed with
// limits.page_token_keys.
std::string NextWindowsToken(const v1::QueryAggregatesRequest& request,
                             const v1::WindowAggregate& last, const QueryLimits& limits);
std::string NextSeriesToken(const v1::ListSeriesRequest& request, const v1::SeriesInfo& last,
                            const QueryLimits& limits);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_REQUESTS_H_
