// The outcome of a load run: the summary the final table and the JSON report are made from, and
// the verdict on it. streammetrics-loadgen and the end-to-end tests judge a run the same way
// through LoadProblems.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_RUN_SUMMARY_H_
#define STREAMMETRICS_TOOLS_LOADGEN_RUN_SUMMARY_H_

#include <string>
#include <vector>

#include "tools/loadgen/ledger.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/series_catalog.h"
#include "tools/loadgen/value_distribution.h"

namespace streammetrics::loadgen {

// Why the load itself failed, one sentence each; empty when every event sent was acked as
// expected: nothing unacked or given up, nothing accepted or rejected against the plan, no batch
// refused, no problem the clients reported. Verification is judged separately.
std::vector<std::string> LoadProblems(const RunTotals& totals, const LedgerCounts& counts);

// The summary of a finished run (without verification): settings, totals, ledger counts and the
// ack latency distribution.
RunSummary SummarizeRun(const RunOptions& options, const SeriesCatalog& catalog,
                        const ValueDistribution& values, const LoadRunner& runner,
                        const Ledger& ledger);

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_RUN_SUMMARY_H_
