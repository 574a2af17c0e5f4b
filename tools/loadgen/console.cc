// ShowProgress and VerifyWithProgress: see console.h.
#include "tools/loadgen/console.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tools/loadgen/verifier.h"

namespace streammetrics::loadgen {
namespace {

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace

void ShowProgress(LoadRunner& runner, Ledger& ledger, const StopSignals& signals,
                  absl::Duration interval, const std::atomic<bool>& done) {
  const bool tty = StderrIsTerminal();
  uint64_t last_sent = 0, last_acked = 0;
  absl::Time last = absl::Now();
  while (!done.load()) {
    if (signals.Wait(interval) > 0) {
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
  if (tty) std::fprintf(stderr, "\n");
}

bool VerifyWithProgress(const LoadgenConfig& config, const SeriesCatalog& catalog,
                        const Ledger& ledger, RunSummary* summary) {
  const bool tty = StderrIsTerminal();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      security::MakeChannel(config.query_target, config.run.security);
  if (!channel.ok()) {
    std::printf("verify: %s\n", std::string(channel.status().message()).c_str());
    return false;
  }
  GrpcWindowQuery query(
      *std::move(channel), absl::Seconds(30),
      config.query_token.empty() ? config.run.security.token : config.query_token);
  VerifyOptions options;
  options.services = catalog.services();
  options.timeout = config.verify_timeout;
  options.on_attempt = [tty](const VerifyReport& r) {
    std::fprintf(stderr,
                 tty ? "\rverify: %s of %s windows final and equal\033[K"
                     : "verify: %s of %s windows final and equal\n",
                 Thousands(r.windows_equal).c_str(), Thousands(r.windows_expected).c_str());
  };
  std::fprintf(stderr, "verify: waiting for the windows to become final (up to %s)\n",
               absl::FormatDuration(config.verify_timeout).c_str());
  absl::StatusOr<VerifyReport> report = Verify(ledger, query, options);
  if (tty) std::fprintf(stderr, "\n");
  if (!report.ok()) {
    std::printf("verify: %s\n", std::string(report.status().message()).c_str());
    return false;
  }
  std::printf("\nVerification against QueryService (%s)\n%s", config.query_target.c_str(),
              VerifyTable(*report).c_str());
  summary->verify = *report;
  return report->passed();
}

}  // namespace streammetrics::loadgen
