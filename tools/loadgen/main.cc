// streammetrics-loadgen: streams a synthetic load through the ingest service with the client
// library, prints a live progress line and a final table, and with --verify checks through
// QueryService that every acked event was counted exactly once. Exit status: 0 when every event
// was acked as expected (and, with --verify, every window is equal); 1 otherwise; 2 for bad
// settings. Only wiring here; the parts are in tools/loadgen/.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/common/stop_signals.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/loadgen_config.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/series_catalog.h"
#include "tools/loadgen/value_distribution.h"
#include "tools/loadgen/verifier.h"

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
  const bool tty = isatty(STDERR_FILENO) == 1;
  std::fprintf(stderr, "run %s: %zu series, %s, to %s\n", config->run.run_id.c_str(),
               catalog->size(), values->spec().c_str(), config->run.target.c_str());
  uint64_t last_sent = 0, last_acked = 0;
  absl::Time last = absl::Now();
  while (!done.load()) {
    if (stop_signals.Wait(config->progress_interval) > 0) {
      std::fprintf(stderr, "\nstopping: flushing what was sent\n");
      runner.Stop();
    }
    if (runner.started() == absl::InfinitePast()) continue;
    const absl::Time now = absl::Now();
    const LedgerCounts c = ledger.counts();
    Progress p;
    p.elapsed = now - runner.started();
    p.sent = runner.events_sent();
    p.acked = c.events_accepted + c.events_rejected_as_expected + c.events_rejected_unexpectedly;
    const double secs = absl::ToDoubleSeconds(now - last);
    p.sent_per_s = secs > 0 ? static_cast<double>(p.sent - last_sent) / secs : 0;
    p.acked_per_s = secs > 0 ? static_cast<double>(p.acked - last_acked) / secs : 0;
    p.p99_ms = ledger.TakeIntervalLatencyMs(0.99);
    p.rejected = c.events_rejected_as_expected + c.events_rejected_unexpectedly;
    last_sent = p.sent;
    last_acked = p.acked;
    last = now;
    std::fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", ProgressLine(p).c_str());
  }
  run.join();
  if (tty) std::fprintf(stderr, "\n");
  if (!run_status.ok()) return Fail(run_status);

  RunSummary summary;
  summary.run_id = config->run.run_id;
  summary.target_rate = config->run.rate;
  summary.streams = config->run.streams;
  summary.batch_size = config->run.batch_size;
  summary.series = catalog->size();
  summary.values = values->spec();
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
  std::printf("\n%s", RunTable(summary).c_str());
  for (const std::string& p : summary.totals.problems) std::printf("problem: %s\n", p.c_str());
  for (const std::string& s : ledger.samples()) std::printf("unexpected: %s\n", s.c_str());
  if (!config->ledger_path.empty()) {
    if (absl::Status s = ledger.WriteCsv(config->ledger_path); !s.ok()) return Fail(s);
    std::printf("ledger: %s\n", config->ledger_path.c_str());
  }

  bool ok = summary.totals.events_unacked == 0 && summary.totals.send_timeouts == 0 &&
            summary.counts.events_rejected_unexpectedly == 0 &&
            summary.counts.events_accepted_unexpectedly == 0 &&
            summary.counts.batches_rejected == 0 && summary.totals.problems.empty();
  if (config->verify) {
    GrpcWindowQuery query(
        grpc::CreateChannel(config->query_target, grpc::InsecureChannelCredentials()));
    VerifyOptions options;
    options.services = catalog->services();
    options.timeout = config->verify_timeout;
    options.on_attempt = [tty](const VerifyReport& r) {
      std::fprintf(stderr,
                   tty ? "\rverify: %s of %s windows final and equal\033[K"
                       : "verify: %s of %s windows final and equal\n",
                   Thousands(r.windows_equal).c_str(), Thousands(r.windows_expected).c_str());
    };
    std::fprintf(stderr, "verify: waiting for the windows to become final (up to %s)\n",
                 absl::FormatDuration(config->verify_timeout).c_str());
    absl::StatusOr<VerifyReport> report = Verify(ledger, query, options);
    if (tty) std::fprintf(stderr, "\n");
    if (!report.ok()) {
      std::printf("verify: %s\n", std::string(report.status().message()).c_str());
      ok = false;
    } else {
      std::printf("\nVerification against QueryService (%s)\n%s", config->query_target.c_str(),
                  VerifyTable(*report).c_str());
      ok = ok && report->passed();
      summary.verify = *report;
    }
  }
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
