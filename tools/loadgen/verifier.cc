// Verification of a run against QueryService (see the header).
#include "tools/loadgen/verifier.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"

namespace streammetrics::loadgen {
namespace {

using Key = std::tuple<std::string, int, int64_t>;  // series key, size, start (unix seconds)

Key KeyOf(const std::string& series, v1::WindowSize size, absl::Time start) {
  return {series, static_cast<int>(size), absl::ToUnixSeconds(start)};
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts));
}

}  // namespace

VerifyReport Compare(const std::vector<LedgerWindow>& expected,
                     const std::vector<ObservedWindow>& observed, size_t max_listed) {
  VerifyReport report;
  std::map<Key, const ObservedWindow*> seen;
  for (const ObservedWindow& w : observed) {
    seen[KeyOf(w.series_key, w.size, w.start)] = &w;
    if (w.size == v1::WINDOW_SIZE_1M) report.events_observed += w.totals.count;
  }
  auto list = [&report, max_listed](WindowDifference d) {
    if (report.differences.size() < max_listed) report.differences.push_back(std::move(d));
  };
  std::map<Key, bool> wanted;
  for (const LedgerWindow& e : expected) {
    ++report.windows_expected;
    if (e.size == v1::WINDOW_SIZE_1M) report.events_expected += e.totals.count;
    const Key key = KeyOf(e.series_key, e.size, e.start);
    wanted[key] = true;
    WindowDifference d{.series_key = e.series_key,
                       .size = e.size,
                       .start = e.start,
                       .expected = e.totals,
                       .observed = {}};
    auto it = seen.find(key);
    if (it == seen.end()) {
      ++report.windows_missing;
      d.kind = WindowDifference::Kind::kMissing;
      list(std::move(d));
      continue;
    }
    const ObservedWindow& o = *it->second;
    d.observed = o.totals;
    // Exact on purpose: see ValueDistribution for why the sums are exact.
    if (o.totals.count != e.totals.count || o.totals.sum != e.totals.sum) {
      ++report.windows_different;
      d.kind = WindowDifference::Kind::kCountOrSum;
      list(std::move(d));
    } else if (!o.is_final) {
      ++report.windows_not_final;
      d.kind = WindowDifference::Kind::kNotFinal;
      list(std::move(d));
    } else {
      ++report.windows_equal;
    }
  }
  for (const ObservedWindow& o : observed) {
    if (wanted.count(KeyOf(o.series_key, o.size, o.start)) > 0) continue;
    ++report.windows_extra;
    list(WindowDifference{.kind = WindowDifference::Kind::kExtra,
                          .series_key = o.series_key,
                          .size = o.size,
                          .start = o.start,
                          .expected = {},
                          .observed = o.totals});
  }
  return report;
}

GrpcWindowQuery::GrpcWindowQuery(std::shared_ptr<grpc::Channel> channel,
                                 absl::Duration call_timeout, std::string token)
    : stub_(v1::QueryService::NewStub(std::move(channel))), call_timeout_(call_timeout) {
  credentials_.token = std::move(token);
}

absl::StatusOr<std::vector<ObservedWindow>> GrpcWindowQuery::Windows(const std::string& service,
                                                                     v1::WindowSize size,
                                                                     absl::Time start,
                                                                     absl::Time end) {
  std::vector<ObservedWindow> out;
  v1::QueryAggregatesRequest request;
  request.set_service_id(service);
  request.set_window_size(size);
  *request.mutable_start() = ToProto(start);
  *request.mutable_end() = ToProto(end);
  request.set_page_size(1000);
  do {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
    security::AddCallCredentials(credentials_, &context);
    v1::QueryAggregatesResponse response;
    grpc::Status status = stub_->QueryAggregates(&context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("QueryAggregates for ", service, " failed: code ",
                                                 status.error_code(), " ", status.error_message()));
    }
    for (const v1::WindowAggregate& w : response.windows()) {
      out.push_back(ObservedWindow{.series_key = w.series_key(),
                                   .size = w.window_size(),
                                   .start = FromProto(w.window_start()),
                                   .totals = {.count = w.count(), .sum = w.sum()},
                                   .is_final = w.is_final()});
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return out;
}

absl::StatusOr<VerifyReport> Verify(const Ledger& ledger, WindowQuery& query,
                                    const VerifyOptions& options) {
  std::vector<LedgerWindow> expected = ledger.Windows(v1::WINDOW_SIZE_1M);
  std::vector<LedgerWindow> five = ledger.Windows(v1::WINDOW_SIZE_5M);
  expected.insert(expected.end(), five.begin(), five.end());
  // One range covering every expected window of both sizes (5-minute starts are the earliest).
  absl::Time from = absl::InfiniteFuture();
  absl::Time to = absl::InfinitePast();
  for (const LedgerWindow& w : expected) {
    from = std::min(from, w.start);
    to = std::max(to, w.start + absl::Minutes(5));
  }
  if (expected.empty()) {
    return absl::FailedPreconditionError(
        "nothing to verify: no event was accepted, so no window is expected");
  }
  const absl::Time deadline = options.clock->Now() + options.timeout;
  while (true) {
    std::vector<ObservedWindow> observed;
    absl::Status failed;
    for (const std::string& service : options.services) {
      for (v1::WindowSize size : {v1::WINDOW_SIZE_1M, v1::WINDOW_SIZE_5M}) {
        absl::StatusOr<std::vector<ObservedWindow>> got = query.Windows(service, size, from, to);
        if (!got.ok()) {
          failed = got.status();
          break;
        }
        observed.insert(observed.end(), got->begin(), got->end());
      }
      if (!failed.ok()) break;
    }
    const bool late = options.clock->Now() >= deadline;
    if (!failed.ok()) {
      if (late) return failed;
    } else {
      VerifyReport report = Compare(expected, observed);
      if (options.on_attempt) options.on_attempt(report);
      if (report.passed() || late) return report;
    }
    absl::SleepFor(options.poll_interval);
  }
}

}  // namespace streammetrics::loadgen
