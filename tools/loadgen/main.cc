// streammetrics-loadgen: streams a synthetic load through the ingest service with the client
// library, prints a live progress line and a final table, and with --verify checks through
// QueryService that every acked event was counted exactly once. Exit status: 0 when every event
// was acked as expected (and, with --verify, every window is equal); 1 otherwise; 2 for bad
// settings. Only wiring here; the parts are in tools/loadgen/.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/common/stop_signals.h"
#include "tools/loadgen/console.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/loadgen_config.h"
#include "tools/loadgen/run_summary.h"

namespace streammetrics::loadgen {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "streammetrics-loadgen: %s\n", std::string(status.message()).c_str());
  return 2;
}

int Main(int argc, char** argv) {
  const StopSignals stop_signals = StopSignals::Block();  // before any thread starts
  absl::StatusOr<LoadgenConfig> config = LoadLoadgenConfig(argc, argv);
  if (absl::IsCancelled(config.status())) return 0;  // --help
  if (!config.ok()) return Fail(config.status());
  absl::StatusOr<ValueDistribution> values = ValueDistribution::Parse(config->values);
  if (!values.ok()) return Fail(values.status());
  absl::StatusOr<SeriesCatalog> catalog = SeriesCatalog::Create(config->shape);
  if (!catalog.ok()) return Fail(catalog.status());

  Ledger ledger(config->run.time_offset, &*catalog);
  LoadRunner runner(config->run, &*catalog, &*values, &ledger);
  std::atomic<bool> done{false};
  absl::Status run_status;
  std::thread run([&] {
    run_status = runner.Run();
    done.store(true);
  });
  std::fprintf(stderr, "run %s: %zu series, %s, to %s\n", config->run.run_id.c_str(),
               catalog->size(), values->spec().c_str(), config->run.target.c_str());
  ShowProgress(runner, ledger, stop_signals, config->progress_interval, done);
  run.join();
  if (!run_status.ok()) return Fail(run_status);

  RunSummary summary = SummarizeRun(config->run, *catalog, *values, runner, ledger);
  std::printf("\n%s", RunTable(summary).c_str());
  const std::vector<std::string> problems = LoadProblems(summary.totals, summary.counts);
  for (const std::string& p : problems) std::printf("problem: %s\n", p.c_str());
  for (const std::string& s : ledger.samples()) std::printf("unexpected: %s\n", s.c_str());
  if (!config->ledger_path.empty()) {
    if (absl::Status s = ledger.WriteCsv(config->ledger_path); !s.ok()) return Fail(s);
    std::printf("ledger: %s\n", config->ledger_path.c_str());
  }
  bool ok = problems.empty();
  if (config->verify) ok = VerifyWithProgress(*config, *catalog, ledger, &summary) && ok;
  if (!config->report_json.empty()) {
    std::ofstream json(config->report_json);
    json << ReportJson(summary);
    if (!json)
      return Fail(absl::UnavailableError(absl::StrCat("cannot write ", config->report_json)));
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace streammetrics::loadgen

int main(int argc, char** argv) { return streammetrics::loadgen::Main(argc, argv); }
