// Fuzz target: QueryService requests as a client sends them, page tokens included. Every Parse*
// answers OK or InvalidArgument (never crashes, never another code); a token made up from the
// input is refused unless signed; a token the service issued for a request it accepted is taken
// back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/query_requests.h"
#include "tests/fuzz/fuzz_check.h"

using streammetrics::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics;
  using namespace streammetrics::aggregation;
  static const QueryLimits limits = [] {
    QueryLimits l;
    l.page_token_keys = *PageTokenKeys::FromText(std::string(32, 'k'));
    return l;
  }();
  FuzzedDataProvider in(data, size);
  v1::QueryAggregatesRequest r;
  r.set_service_id(in.ConsumeRandomLengthString(120));
  r.set_metric_name(in.ConsumeRandomLengthString(220));
  for (int i = in.ConsumeIntegralInRange(0, 4); i > 0; --i) {
    (*r.mutable_tags())[in.ConsumeRandomLengthString(70)] = in.ConsumeRandomLengthString(70);
  }
  r.set_window_size(static_cast<v1::WindowSize>(in.ConsumeIntegralInRange(0, 3)));
  r.mutable_start()->set_seconds(in.ConsumeIntegral<int64_t>() % 300'000'000'000);
  r.mutable_start()->set_nanos(in.ConsumeIntegral<int32_t>());
  r.mutable_end()->set_seconds(r.start().seconds() + in.ConsumeIntegralInRange(-10, 100'000));
  r.set_page_size(in.ConsumeIntegralInRange(-5, 2000));
  const bool as_base64 = in.ConsumeBool();
  const std::string raw = in.ConsumeRemainingBytesAsString();
  r.set_page_token(as_base64 ? absl::WebSafeBase64Escape(raw) : raw);

  absl::StatusOr<WindowQuery> q = ParseQueryAggregates(r, limits);
  Check(q.ok() || absl::IsInvalidArgument(q.status()));
  // The input cannot hold a valid MAC but by a 2^-256 chance: a non-empty token never passes.
  Check(!q.ok() || r.page_token().empty());
  if (q.ok()) {
    v1::WindowAggregate last;
    last.set_series_key(raw.substr(0, 300));
    *last.mutable_window_start() = r.start();
    r.set_page_token(NextWindowsToken(r, last, limits));
    absl::StatusOr<WindowQuery> next = ParseQueryAggregates(r, limits);
    Check(next.ok() && next->after.has_value() && next->after->series_key == last.series_key());
  }
  v1::ListSeriesRequest series;
  series.set_service_id(r.service_id());
  series.set_page_token(r.page_token());
  absl::StatusOr<SeriesQuery> s = ParseListSeries(series, limits);
  Check(s.ok() || absl::IsInvalidArgument(s.status()));
  return 0;
}
