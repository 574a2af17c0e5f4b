// What streammetrics-loadgen shows a person while it works: the live progress line (stopping the
// run on SIGTERM/SIGINT) and the verification's progress and table. The numbers come from the
// runner, the ledger and the verifier; this file only prints them.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_CONSOLE_H_
#define STREAMMETRICS_TOOLS_LOADGEN_CONSOLE_H_

#include <atomic>

#include "absl/time/time.h"
#include "lib/common/stop_signals.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/loadgen_config.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/series_catalog.h"

namespace streammetrics::loadgen {

// Prints the progress line on stderr every `interval` (rewritten in place on a terminal) until
// `done` becomes true. A stop signal makes the runner stop sending and flush what it sent.
void ShowProgress(LoadRunner& runner, Ledger& ledger, const StopSignals& signals,
                  absl::Duration interval, const std::atomic<bool>& done);

// --verify: waits for every window of the ledger to be final through QueryService at
// config.query_target, printing progress on stderr and the verification table on stdout, and
// stores the report in summary->verify. Returns true when every window is final and equal.
bool VerifyWithProgress(const LoadgenConfig& config, const SeriesCatalog& catalog,
                        const Ledger& ledger, RunSummary* summary);

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_CONSOLE_H_
