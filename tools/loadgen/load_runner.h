// LoadRunner: drives a load generator run. One MetricsClient per stream, each fed by its own
// thread at rate / streams events per second (open loop: event k of a stream is due at
// start + k / stream_rate whatever happened to event k - 1, and is stamped with that due time), or
// as fast as the clients take them when rate is 0. Every ack goes to the Ledger.
//
// Sending ends at the duration, at the event count, or at Stop(); then every client is closed
// (flushed) within flush_timeout.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_LOAD_RUNNER_H_
#define STREAMMETRICS_TOOLS_LOADGEN_LOAD_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/client/metrics_client.h"
#include "lib/security/client_security.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/series_catalog.h"
#include "tools/loadgen/value_distribution.h"

namespace streammetrics::loadgen {

struct RunOptions {
  // Ingest service address (host:port), or several separated by commas: stream i then sends to
  // the (i mod n)-th, so one run spreads over instances without a load balancer.
  std::string target = "127.0.0.1:50051";
  // TLS and the bearer token (ingest scope) of the clients.
  security::ClientSecurityConfig security;
  // Prefix of client ids ("<run_id>-<stream>") and of service names.
  std::string run_id = "lg";
  int64_t streams = 4;
  // Events per second over all streams; 0: as fast as the clients accept them.
  double rate = 10'000;
  // Sending stops after this long...
  absl::Duration duration = absl::Seconds(30);
  // ...or after this many events in all (0: no limit).
  int64_t events = 0;
  int64_t batch_size = 500;
  absl::Duration max_batch_delay = absl::Milliseconds(5);
  int64_t max_buffered_events = 100'000;  // per stream
  double invalid_fraction = 0;
  // Events are stamped this long before their intended send time. With more than the aggregation
  // service's allowed lateness, every window of the run can be final moments after it ends
  // (tests, backfills); the ledger still measures latency from the intended send time.
  absl::Duration time_offset = absl::ZeroDuration();
  uint64_t seed = 1;
  // How long Send may block on backpressure before the event is given up (and counted).
  absl::Duration send_timeout = absl::Seconds(30);
  // How long the final flush may take.
  absl::Duration flush_timeout = absl::Seconds(60);
};

// What the run did, from the runner's side (the ledger holds the acks).
struct RunTotals {
  absl::Duration elapsed;     // from start until sending stopped
  absl::Duration flush_time;  // closing the clients
  // CPU time of the whole process (every thread) from start through the flush: what producing
  // the load cost, beside what it cost the services.
  absl::Duration cpu_time;
  uint64_t events_sent = 0;     // taken by the clients
  uint64_t send_timeouts = 0;   // given up after send_timeout (not sent)
  uint64_t events_unacked = 0;  // still unacked when the flush ended
  uint64_t batches_resent = 0;
  uint64_t reconnects = 0;
  uint64_t stream_failures = 0;
  // Flush failures and rejected batches, as sentences.
  std::vector<std::string> problems;
};

class LoadRunner {
 public:
  // `catalog`, `values` and `ledger` must outlive the runner.
  LoadRunner(RunOptions options, const SeriesCatalog* catalog, const ValueDistribution* values,
             Ledger* ledger);

  // Runs to the end (blocking). Fails with InvalidArgument for bad options (then nothing is
  // sent); otherwise OK, with what happened in totals().
  absl::Status Run();

  // Ends sending early (e.g. on SIGINT); the flush still happens. Any thread.
  void Stop() { stop_.store(true); }

  // Live counters for the progress line; any thread.
  uint64_t events_sent() const { return sent_.load(std::memory_order_relaxed); }
  // When sending started (InfinitePast before).
  absl::Time started() const;

  // Valid after Run.
  const RunTotals& totals() const { return totals_; }

 private:
  void Stream(int index, client::MetricsClient* client);

  RunOptions options_;
  const SeriesCatalog* catalog_;
  const ValueDistribution* values_;
  Ledger* ledger_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> send_timeouts_{0};
  std::atomic<int64_t> budget_{0};              // events left when a count is set
  std::atomic<int64_t> started_unix_nanos_{0};  // 0: not started
  RunTotals totals_;
};

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_LOAD_RUNNER_H_
