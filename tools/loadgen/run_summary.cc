// LoadProblems and SummarizeRun: see run_summary.h.
#include "tools/loadgen/run_summary.h"

#include "absl/strings/str_cat.h"

namespace streammetrics::loadgen {

std::vector<std::string> LoadProblems(const RunTotals& totals, const LedgerCounts& counts) {
  std::vector<std::string> problems;
  if (totals.events_unacked != 0) {
    problems.push_back(absl::StrCat(totals.events_unacked, " events sent were never acked"));
  }
  if (totals.send_timeouts != 0) {
    problems.push_back(
        absl::StrCat(totals.send_timeouts, " events were given up: the client buffer stayed full"));
  }
  if (counts.events_rejected_unexpectedly != 0) {
    problems.push_back(
        absl::StrCat(counts.events_rejected_unexpectedly, " valid events were rejected"));
  }
  if (counts.events_accepted_unexpectedly != 0) {
    problems.push_back(absl::StrCat(counts.events_accepted_unexpectedly,
                                    " deliberately invalid events were accepted"));
  }
  if (counts.batches_rejected != 0) {
    problems.push_back(absl::StrCat(counts.batches_rejected, " batches were refused whole"));
  }
  problems.insert(problems.end(), totals.problems.begin(), totals.problems.end());
  return problems;
}

RunSummary SummarizeRun(const RunOptions& options, const SeriesCatalog& catalog,
                        const ValueDistribution& values, const LoadRunner& runner,
                        const Ledger& ledger) {
  RunSummary summary;
  summary.run_id = options.run_id;
  summary.target_rate = options.rate;
  summary.streams = options.streams;
  summary.batch_size = options.batch_size;
  summary.series = catalog.size();
  summary.values = values.spec();
  summary.totals = runner.totals();
  summary.counts = ledger.counts();
  summary.p50_ms = ledger.LatencyMs(0.5);
  summary.p90_ms = ledger.LatencyMs(0.9);
  summary.p99_ms = ledger.LatencyMs(0.99);
  summary.p999_ms = ledger.LatencyMs(0.999);
  summary.max_ms = ledger.LatencyMs(1);
  for (int i = 1; i <= 100; ++i) {
    const double q = i / 100.0;
    summary.latency_cdf.emplace_back(q, ledger.LatencyMs(q));
    if (i == 99) summary.latency_cdf.emplace_back(0.999, summary.p999_ms);
  }
  return summary;
}

}  // namespace streammetrics::loadgen
