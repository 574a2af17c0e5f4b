// Verification of a load generator run: are the pipeline's windows exactly what was acked?
//
// Compare() is pure: it matches the ledger's windows against the windows the pipeline reports,
// series by series, and lists what differs (missing, extra, another count or sum, not yet
// final). WindowQuery is the I/O edge that fetches the pipeline's windows; GrpcWindowQuery pages
// through QueryService.QueryAggregates. Verify() polls until every window is final and equal, or
// the deadline passes.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_VERIFIER_H_
#define STREAMMETRICS_TOOLS_LOADGEN_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/common/clock.h"
#include "lib/security/client_security.h"
#include "streammetrics/v1/query.grpc.pb.h"
#include "tools/loadgen/ledger.h"

namespace streammetrics::loadgen {

// A window as the pipeline reports it.
struct ObservedWindow {
  std::string series_key;
  v1::WindowSize size = v1::WINDOW_SIZE_UNSPECIFIED;
  absl::Time start;
  WindowTotals totals;
  bool is_final = false;
};

struct WindowDifference {
  enum class Kind { kMissing, kExtra, kCountOrSum, kNotFinal };
  Kind kind = Kind::kMissing;
  std::string series_key;
  v1::WindowSize size = v1::WINDOW_SIZE_UNSPECIFIED;
  absl::Time start;
  WindowTotals expected;  // zero for kExtra
  WindowTotals observed;  // zero for kMissing
};

struct VerifyReport {
  uint64_t windows_expected = 0;
  uint64_t windows_equal = 0;  // final, same count and sum
  uint64_t windows_missing = 0;
  uint64_t windows_extra = 0;
  uint64_t windows_different = 0;  // another count or sum
  uint64_t windows_not_final = 0;  // equal so far, not yet final
  uint64_t events_expected = 0;    // in the expected 1-minute windows
  uint64_t events_observed = 0;    // in the observed 1-minute windows
  // The first differences, at most Compare's max_listed.
  std::vector<WindowDifference> differences;
  // Every expected window is final and equal, and nothing else was observed.
  bool passed() const {
    return windows_equal == windows_expected && windows_extra == 0 && windows_missing == 0 &&
           windows_different == 0 && windows_not_final == 0;
  }
};

// Compares exactly (the load generator's values sum exactly in any order; see
// ValueDistribution). Both inputs in any order; sizes may be mixed.
VerifyReport Compare(const std::vector<LedgerWindow>& expected,
                     const std::vector<ObservedWindow>& observed, size_t max_listed = 20);

// Where the pipeline's windows are read from.
class WindowQuery {
 public:
  virtual ~WindowQuery() = default;
  // Every window of `service` of `size` with a start in [start, end). Fails with the query's
  // error.
  virtual absl::StatusOr<std::vector<ObservedWindow>> Windows(const std::string& service,
                                                              v1::WindowSize size, absl::Time start,
                                                              absl::Time end) = 0;
};

// QueryService.QueryAggregates, 1000 windows per page.
class GrpcWindowQuery final : public WindowQuery {
 public:
  // `token`, if not empty, goes with every call as a bearer token.
  explicit GrpcWindowQuery(std::shared_ptr<grpc::Channel> channel,
                           absl::Duration call_timeout = absl::Seconds(30), std::string token = "");
  absl::StatusOr<std::vector<ObservedWindow>> Windows(const std::string& service,
                                                      v1::WindowSize size, absl::Time start,
                                                      absl::Time end) override;

 private:
  std::unique_ptr<v1::QueryService::Stub> stub_;
  absl::Duration call_timeout_;
  security::ClientSecurityConfig credentials_;  // only its token is used
};

struct VerifyOptions {
  // The run's services (every window observed for them must be expected).
  std::vector<std::string> services;
  // How long windows may take to become final and equal.
  absl::Duration timeout = absl::Minutes(3);
  // Between two comparisons.
  absl::Duration poll_interval = absl::Seconds(2);
  // Called after each comparison (progress); may be empty.
  std::function<void(const VerifyReport&)> on_attempt;
  // Measures the timeout (tests use a fake one; the poll interval is always slept for real).
  const Clock* clock = RealClock::Get();
};

// Compares the ledger's 1- and 5-minute windows with the pipeline's until the comparison passes
// or options.timeout passes; returns the last comparison. Fails with FailedPrecondition when the
// ledger holds no accepted event (nothing to compare), or with the query's error when a query
// still fails at the deadline (earlier query failures are retried).
absl::StatusOr<VerifyReport> Verify(const Ledger& ledger, WindowQuery& query,
                                    const VerifyOptions& options);

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_VERIFIER_H_
