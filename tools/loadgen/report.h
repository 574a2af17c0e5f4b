// Report: what streammetrics-loadgen prints (pure formatting, no I/O): the live progress line,
// the final table of the run, the verification table with the differences found, and the same
// numbers as JSON for the scripts under bench/.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_REPORT_H_
#define STREAMMETRICS_TOOLS_LOADGEN_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/verifier.h"

namespace streammetrics::loadgen {

struct Progress {
  absl::Duration elapsed;
  uint64_t sent = 0;
  uint64_t acked = 0;      // events in durable batches (accepted or rejected)
  double sent_per_s = 0;   // over the last interval
  double acked_per_s = 0;  // over the last interval
  double p99_ms = 0;       // ack latency over the last interval
  uint64_t rejected = 0;
};

// "t=12s  sent 120,000 (10,012/s)  acked 119,500 (9,987/s)  in flight 500  p99 45.1 ms  ...".
std::string ProgressLine(const Progress& p);

struct RunSummary {
  std::string run_id;
  double target_rate = 0;  // 0: unpaced
  int64_t streams = 0;
  int64_t batch_size = 0;
  uint64_t series = 0;
  std::string values;
  RunTotals totals;
  LedgerCounts counts;
  // Ack latency from the intended send time, milliseconds.
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  // (quantile, milliseconds) from 0.01 to 1, for plotting the distribution (JSON only).
  std::vector<std::pair<double, double>> latency_cdf;
  std::optional<VerifyReport> verify;
};

// The run as a two-column table (one row per number).
std::string RunTable(const RunSummary& s);

// The verification as a table, then each listed difference on its own line.
std::string VerifyTable(const VerifyReport& r);

// One JSON object with every number of RunTable and VerifyTable.
std::string ReportJson(const RunSummary& s);

// 1234567 -> "1,234,567".
std::string Thousands(uint64_t n);

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_REPORT_H_
