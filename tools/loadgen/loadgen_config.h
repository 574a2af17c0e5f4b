// LoadgenConfig: every setting of streammetrics-loadgen, with its default, loaded once at start
// from --flags (and STREAMMETRICS_* variables, like the services).
#ifndef STREAMMETRICS_TOOLS_LOADGEN_LOADGEN_CONFIG_H_
#define STREAMMETRICS_TOOLS_LOADGEN_LOADGEN_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/series_catalog.h"

namespace streammetrics::loadgen {

struct LoadgenConfig {
  // Where to send, how fast, how long, in how many streams and batches (target, run_id, ...).
  RunOptions run;
  // How many series: services x metrics x tag sets.
  CatalogShape shape;
  // Where values come from (see ValueDistribution::Parse).
  std::string values = "lognormal:3:1";
  // After the run, wait for the windows to be final and compare them with the ledger.
  bool verify = false;
  // QueryService address used by --verify, and the token for it (query scope) when it differs
  // from run.security.token; run.security's TLS settings apply to it too.
  std::string query_target = "127.0.0.1:50052";
  std::string query_token;
  // How long --verify waits for every window to be final and equal.
  absl::Duration verify_timeout = absl::Minutes(3);
  // Every how often the progress line is printed (on stderr).
  absl::Duration progress_interval = absl::Seconds(1);
  // If set: the ledger's 1-minute windows as CSV.
  std::string ledger_path;
  // If set: the final numbers as one JSON object (for scripts under bench/).
  std::string report_json;
};

// Defaults, then variables, then flags; an empty run_id becomes "lg-<6 random hex digits>".
// Fails with InvalidArgument naming the bad setting, or Cancelled after printing the usage for
// --help.
absl::StatusOr<LoadgenConfig> LoadLoadgenConfig(int argc, const char* const* argv);

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_LOADGEN_CONFIG_H_
