// QueryService request rules and page tokens (see query_requests.h).
#include "aggregation-service/query/query_requests.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aggregation-service/engine/window_math.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/common/status_macros.h"
#include "lib/events/series_key.h"
#include "lib/events/validation.h"
#include "streammetrics/internal/page_token.pb.h"

namespace streammetrics::aggregation {
namespace {

using internal::PageToken;

absl::Status Invalid(absl::string_view sentence) { return absl::InvalidArgumentError(sentence); }

// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of a valid Timestamp.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

absl::StatusOr<absl::Time> RequiredTime(const google::protobuf::Timestamp& t, bool present,
                                        absl::string_view field) {
  if (!present) {
    return Invalid(
        absl::StrCat(field, " is required: a timestamp such as \"2026-12-01T10:00:00Z\""));
  }
  if (t.seconds() < kMinSeconds || t.seconds() > kMaxSeconds || t.nanos() < 0 ||
      t.nanos() >= 1000000000) {
    return Invalid(absl::StrCat(field, " is not a valid timestamp (seconds ", t.seconds(),
                                ", nanos ", t.nanos(), "): use RFC 3339 between years 1 and 9999"));
  }
  return TimeFromProto(t);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

// Control characters (a NUL among them) are in no stored name: refused before they reach
// PostgreSQL, whose error for a NUL would otherwise be the answer.
absl::Status CheckCharacters(absl::string_view field, absl::string_view text) {
  const size_t at = events::FindControlCharacter(text);
  if (at == absl::string_view::npos) return absl::OkStatus();
  return Invalid(absl::StrFormat(
      "%s contains control character 0x%02X at byte %d; no stored name has one (bytes "
      "0x00-0x1F and 0x7F are refused at ingest)",
      field, static_cast<unsigned int>(static_cast<unsigned char>(text[at])), at));
}

absl::Status CheckService(const std::string& service_id, const QueryLimits& limits) {
  if (service_id.empty()) {
    return Invalid("service_id is required: name the service whose metrics you want");
  }
  if (service_id.size() > limits.max_service_id_length) {
    return Invalid(absl::StrCat("service_id is ", service_id.size(), " bytes long; at most ",
                                limits.max_service_id_length, " (no stored service has more)"));
  }
  return CheckCharacters("service_id", service_id);
}

absl::Status CheckMetric(const std::string& metric_name, bool required, const QueryLimits& limits) {
  if (metric_name.empty() && required) {
    return Invalid("metric_name is required: name the metric, e.g. \"http_request_duration\"");
  }
  if (metric_name.size() > limits.max_metric_name_length) {
    return Invalid(absl::StrCat("metric_name is ", metric_name.size(), " bytes long; at most ",
                                limits.max_metric_name_length, " (no stored metric has more)"));
  }
  return CheckCharacters("metric_name", metric_name);
}

absl::StatusOr<std::map<std::string, std::string>> CheckTags(
    const google::protobuf::Map<std::string, std::string>& tags, const QueryLimits& limits) {
  if (tags.size() > limits.max_tags) {
    return Invalid(absl::StrCat("tags has ", tags.size(), " pairs; at most ", limits.max_tags,
                                " (no event carries more)"));
  }
  std::map<std::string, std::string> sorted;
  for (const auto& [key, value] : tags) {
    if (key.empty()) return Invalid("tags has an empty key: every tag needs a name");
    if (key.size() > limits.max_tag_key_length) {
      return Invalid(absl::StrCat("tag key \"", key.substr(0, 32), "...\" is ", key.size(),
                                  " bytes long; at most ", limits.max_tag_key_length));
    }
    RETURN_IF_ERROR(CheckCharacters("a tag key", key));
    if (value.size() > limits.max_tag_value_length) {
      return Invalid(absl::StrCat("the value of tag \"", key, "\" is ", value.size(),
                                  " bytes long; at most ", limits.max_tag_value_length));
    }
    RETURN_IF_ERROR(CheckCharacters(absl::StrCat("the value of tag \"", key, "\""), value));
    sorted.emplace(key, value);
  }
  return sorted;
}

absl::StatusOr<v1::WindowSize> RequiredWindowSize(v1::WindowSize size, bool allow_unspecified) {
  if (size == v1::WINDOW_SIZE_1M || size == v1::WINDOW_SIZE_5M) return size;
  if (size == v1::WINDOW_SIZE_UNSPECIFIED && allow_unspecified) return size;
  if (size == v1::WINDOW_SIZE_UNSPECIFIED) {
    return Invalid("window_size is required: WINDOW_SIZE_1M or WINDOW_SIZE_5M");
  }
  return Invalid(absl::StrCat("window_size ", static_cast<int>(size),
                              " is unknown: use WINDOW_SIZE_1M or WINDOW_SIZE_5M"));
}

absl::Status CheckRange(absl::Time start, absl::Time end, const QueryLimits& limits) {
  if (start >= end) {
    return Invalid(
        absl::StrCat("start (", Rfc3339(start), ") must be before end (", Rfc3339(end), ")"));
  }
  if (end - start > limits.max_span) {
    return Invalid(absl::StrCat("the range from ", Rfc3339(start), " to ", Rfc3339(end), " spans ",
                                absl::FormatDuration(end - start), "; at most ",
                                absl::FormatDuration(limits.max_span),
                                " per request: split it into several requests"));
  }
  return absl::OkStatus();
}

absl::Status CheckPageSize(int32_t page_size, const QueryLimits& limits) {
  if (page_size < 0) {
    return Invalid(absl::StrCat("page_size ", page_size, " is negative: use 0 for the default (",
                                limits.default_page_size, ") or up to ", limits.max_page_size));
  }
  if (page_size > limits.max_page_size) {
    return Invalid(absl::StrCat("page_size ", page_size, " is too large: at most ",
                                limits.max_page_size, "; follow next_page_token for the rest"));
  }
  return absl::OkStatus();
}

// FNV-1a over the request's deterministic serialization: a fingerprint that is the same in every
// process and release (absl::Hash is seeded per process, and tokens must survive going to
// another instance behind a load balancer).
uint64_t Fingerprint(const google::protobuf::Message& filter) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    filter.SerializeToCodedStream(&coded);
  }
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t WindowsFingerprint(const v1::QueryAggregatesRequest& request) {
  v1::QueryAggregatesRequest filter = request;
  filter.clear_page_size();
  filter.clear_page_token();
  filter.clear_include_sketch();
  return Fingerprint(filter);
}

uint64_t SeriesFingerprint(const v1::ListSeriesRequest& request) {
  v1::ListSeriesRequest filter = request;
  filter.clear_page_size();
  filter.clear_page_token();
  return Fingerprint(filter);
}

std::string EncodeToken(const PageToken& token, const PageTokenKeys& keys) {
  return absl::WebSafeBase64Escape(keys.Sign(token.SerializeAsString()));
}

constexpr char kStartAgain[] = "start again with an empty page_token";

absl::StatusOr<std::optional<PageToken>> DecodeToken(const std::string& text, PageToken::Kind kind,
                                                     uint64_t fingerprint,
                                                     const QueryLimits& limits) {
  if (text.empty()) return std::optional<PageToken>();
  if (text.size() > limits.max_page_token_length) {
    return Invalid(absl::StrCat("page_token is ", text.size(),
                                " characters long; no token this "
                                "service issues has more than ",
                                limits.max_page_token_length, ": ", kStartAgain));
  }
  std::string bytes;
  PageToken token;
  if (!absl::WebSafeBase64Unescape(text, &bytes)) {
    return Invalid(
        absl::StrCat("page_token is malformed: pass next_page_token exactly as the "
                     "previous answer gave it, or ",
                     kStartAgain));
  }
  std::optional<std::string> payload = limits.page_token_keys.Verify(bytes);
  if (!payload.has_value()) {
    // Forged or edited, or signed with a key this instance does not hold (a key rotated out, or
    // an instance without configured keys).
    return Invalid(absl::StrCat(
        "page_token was not issued by this service (or its signing key has been retired): ",
        kStartAgain));
  }
  if (!token.ParseFromString(*payload) || token.kind() == PageToken::KIND_UNSPECIFIED) {
    return Invalid(
        absl::StrCat("page_token is malformed: pass next_page_token exactly as the "
                     "previous answer gave it, or ",
                     kStartAgain));
  }
  if (token.kind() != kind) {
    return Invalid(
        absl::StrCat("page_token was issued by ",
                     token.kind() == PageToken::KIND_WINDOWS ? "QueryAggregates" : "ListSeries",
                     ", not this RPC: ", kStartAgain));
  }
  if (token.request_fingerprint() != fingerprint) {
    return Invalid(
        absl::StrCat("page_token belongs to a request with other filters: keep every "
                     "field but page_size and page_token unchanged between pages, or ",
                     kStartAgain));
  }
  return std::optional<PageToken>(std::move(token));
}

}  // namespace

bool WatchFilter::Matches(const v1::WindowAggregate& window) const {
  if (window.series().service_id() != service_id) return false;
  if (!metric_name.empty() && window.series().metric_name() != metric_name) return false;
  return window_size == v1::WINDOW_SIZE_UNSPECIFIED || window.window_size() == window_size;
}

int PageSize(int32_t requested, const QueryLimits& limits) {
  return requested == 0 ? limits.default_page_size : requested;
}

absl::StatusOr<WindowQuery> ParseQueryAggregates(const v1::QueryAggregatesRequest& request,
                                                 const QueryLimits& limits) {
  WindowQuery q;
  RETURN_IF_ERROR(CheckService(request.service_id(), limits));
  RETURN_IF_ERROR(CheckMetric(request.metric_name(), /*required=*/false, limits));
  ASSIGN_OR_RETURN(q.tags, CheckTags(request.tags(), limits));
  ASSIGN_OR_RETURN(q.window_size, RequiredWindowSize(request.window_size(), false));
  ASSIGN_OR_RETURN(q.start, RequiredTime(request.start(), request.has_start(), "start"));
  ASSIGN_OR_RETURN(q.end, RequiredTime(request.end(), request.has_end(), "end"));
  RETURN_IF_ERROR(CheckRange(q.start, q.end, limits));
  RETURN_IF_ERROR(CheckPageSize(request.page_size(), limits));
  ASSIGN_OR_RETURN(std::optional<PageToken> token,
                   DecodeToken(request.page_token(), PageToken::KIND_WINDOWS,
                               WindowsFingerprint(request), limits));
  if (token.has_value()) {
    q.after =
        WindowCursor{absl::FromUnixMicros(token->after_start_micros()), token->after_series_key()};
  }
  q.service_id = request.service_id();
  q.metric_name = request.metric_name();
  q.limit = PageSize(request.page_size(), limits);
  q.include_sketch = request.include_sketch();
  return q;
}

absl::StatusOr<SeriesQuery> ParseListSeries(const v1::ListSeriesRequest& request,
                                            const QueryLimits& limits) {
  SeriesQuery q;
  RETURN_IF_ERROR(CheckService(request.service_id(), limits));
  RETURN_IF_ERROR(CheckMetric(request.metric_name(), /*required=*/false, limits));
  RETURN_IF_ERROR(CheckPageSize(request.page_size(), limits));
  ASSIGN_OR_RETURN(std::optional<PageToken> token,
                   DecodeToken(request.page_token(), PageToken::KIND_SERIES,
                               SeriesFingerprint(request), limits));
  if (token.has_value()) {
    q.after = SeriesCursor{token->after_metric_name(), token->after_series_key()};
  }
  q.service_id = request.service_id();
  q.metric_name = request.metric_name();
  q.limit = PageSize(request.page_size(), limits);
  return q;
}

absl::StatusOr<LatestQuery> ParseGetLatest(const v1::GetLatestRequest& request,
                                           const QueryLimits& limits) {
  LatestQuery q;
  RETURN_IF_ERROR(CheckService(request.service_id(), limits));
  RETURN_IF_ERROR(CheckMetric(request.metric_name(), /*required=*/true, limits));
  RETURN_IF_ERROR(CheckTags(request.tags(), limits).status());
  ASSIGN_OR_RETURN(q.window_size, RequiredWindowSize(request.window_size(), false));
  q.series_key = events::SeriesKey(request.service_id(), request.metric_name(), request.tags());
  q.final_only = request.final_only();
  return q;
}

absl::StatusOr<SummaryQuery> ParseSummarize(const v1::SummarizeRequest& request,
                                            const QueryLimits& limits) {
  SummaryQuery q;
  RETURN_IF_ERROR(CheckService(request.service_id(), limits));
  RETURN_IF_ERROR(CheckMetric(request.metric_name(), /*required=*/true, limits));
  ASSIGN_OR_RETURN(q.tags, CheckTags(request.tags(), limits));
  ASSIGN_OR_RETURN(absl::Time start, RequiredTime(request.start(), request.has_start(), "start"));
  ASSIGN_OR_RETURN(absl::Time end, RequiredTime(request.end(), request.has_end(), "end"));
  if (start >= end) RETURN_IF_ERROR(CheckRange(start, end, limits));
  // Rounded outwards to whole 1-minute windows, then checked, so the span merged is the one
  // limited.
  q.start = WindowStart(start, absl::Minutes(1));
  q.end = WindowStart(end, absl::Minutes(1));
  if (q.end < end) q.end += absl::Minutes(1);
  RETURN_IF_ERROR(CheckRange(q.start, q.end, limits));
  if (static_cast<size_t>(request.quantiles_size()) > limits.max_quantiles) {
    return Invalid(absl::StrCat("quantiles has ", request.quantiles_size(), " entries; at most ",
                                limits.max_quantiles));
  }
  for (double quantile : request.quantiles()) {
    if (!(quantile >= 0 && quantile <= 1)) {
      return Invalid(absl::StrFormat(
          "quantile %g is outside [0, 1]: ask for 0.99, not 99, for the 99th percentile",
          quantile));
    }
    q.quantiles.push_back(quantile);
  }
  if (q.quantiles.empty()) q.quantiles = {0.5, 0.95, 0.99};
  q.service_id = request.service_id();
  q.metric_name = request.metric_name();
  return q;
}

absl::StatusOr<WatchFilter> ParseWatch(const v1::WatchAggregatesRequest& request,
                                       const QueryLimits& limits) {
  WatchFilter f;
  RETURN_IF_ERROR(CheckService(request.service_id(), limits));
  RETURN_IF_ERROR(CheckMetric(request.metric_name(), /*required=*/false, limits));
  ASSIGN_OR_RETURN(f.window_size, RequiredWindowSize(request.window_size(), true));
  f.service_id = request.service_id();
  f.metric_name = request.metric_name();
  return f;
}

std::string NextWindowsToken(const v1::QueryAggregatesRequest& request,
                             const v1::WindowAggregate& last, const QueryLimits& limits) {
  PageToken token;
  token.set_kind(PageToken::KIND_WINDOWS);
  token.set_request_fingerprint(WindowsFingerprint(request));
  token.set_after_start_micros(absl::ToUnixMicros(TimeFromProto(last.window_start())));
  token.set_after_series_key(last.series_key());
  return EncodeToken(token, limits.page_token_keys);
}

std::string NextSeriesToken(const v1::ListSeriesRequest& request, const v1::SeriesInfo& last,
                            const QueryLimits& limits) {
  PageToken token;
  token.set_kind(PageToken::KIND_SERIES);
  token.set_request_fingerprint(SeriesFingerprint(request));
  token.set_after_metric_name(last.series().metric_name());
  token.set_after_series_key(last.series_key());
  return EncodeToken(token, limits.page_token_keys);
}

}  // namespace streammetrics::aggregation
