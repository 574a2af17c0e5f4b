// LoadgenConfig: registration of every setting with ConfigLoader (see the header).
#include "tools/loadgen/loadgen_config.h"

#include <random>

#include "absl/strings/str_format.h"
#include "lib/common/config_loader.h"
#include "lib/security/client_security.h"

namespace streammetrics::loadgen {

absl::StatusOr<LoadgenConfig> LoadLoadgenConfig(int argc, const char* const* argv) {
  LoadgenConfig c;
  RunOptions& r = c.run;
  ConfigLoader loader("streammetrics-loadgen");
  loader.String("target", &r.target,
                "Ingest service address (host:port); several, comma-separated, share the streams.");
  r.run_id.clear();
  loader.String("run_id", &r.run_id,
                "Names this run's clients and services (<run_id>-svc-N); empty: lg-<random>.");
  loader.Double("rate", &r.rate, "Events per second over all streams (open loop); 0: unpaced.");
  loader.Duration("duration", &r.duration, "How long to send.");
  loader.Int("events", &r.events, "Stop after this many events (0: only the duration counts).");
  loader.Int("streams", &r.streams, "Concurrent IngestStream clients, one thread each.");
  loader.Int("batch_size", &r.batch_size, "Events per batch (the server accepts up to 1000).");
  loader.Duration("max_batch_delay", &r.max_batch_delay,
                  "A partial batch is sent at most this long after its first event.");
  loader.Int("max_buffered_events", &r.max_buffered_events,
             "Unacked events per stream before Send blocks (backpressure).");
  loader.Double("invalid_fraction", &r.invalid_fraction,
                "Fraction of events broken on purpose (NaN, negative, no service, ...).");
  loader.Duration("time_offset", &r.time_offset,
                  "Stamp events this long before their send time (past windows close sooner).");
  int64_t seed = static_cast<int64_t>(r.seed);
  loader.Int("seed", &seed, "Seed of series choice and values (same seed, same events).");
  loader.Duration("send_timeout", &r.send_timeout,
                  "How long one Send may block before the event is given up (and counted).");
  loader.Duration("flush_timeout", &r.flush_timeout, "How long the final flush may take.");
  loader.Int("services", &c.shape.services, "Services (series = services x metrics x tag_sets).");
  loader.Int("metrics", &c.shape.metrics, "Metric names per service.");
  loader.Int("tag_sets", &c.shape.tag_sets, "Tag sets per metric (0: one series without tags).");
  loader.String("values", &c.values,
                "Value distribution: constant:V, uniform:LO:HI, exponential:MEAN, "
                "lognormal:MU:SIGMA, pareto:XM:ALPHA.");
  loader.Bool("verify", &c.verify,
              "After the run, wait for final windows and compare them with the ledger.");
  loader.String("query_target", &c.query_target, "QueryService address used by --verify.");
  security::AddClientSecurityFlags(&loader, &r.security);
  loader.Secret("query_token", &c.query_token,
                "bearer token for --verify's queries, if not --token");
  loader.Duration("verify_timeout", &c.verify_timeout,
                  "How long --verify waits for every window to be final and equal.");
  loader.Duration("progress_interval", &c.progress_interval, "Progress line period.");
  loader.String("ledger", &c.ledger_path, "Write the acked 1-minute windows to this CSV file.");
  loader.String("report_json", &c.report_json, "Write the final numbers to this JSON file.");
  if (absl::Status s = loader.Load(argc, argv); !s.ok()) return s;
  r.seed = static_cast<uint64_t>(seed);
  if (r.run_id.empty()) {
    r.run_id = absl::StrFormat("lg-%06x", std::random_device()() & 0xffffff);
  }
  c.shape.run_id = r.run_id;
  if (c.progress_interval <= absl::ZeroDuration() || c.verify_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("progress_interval and verify_timeout must be positive");
  }
  return c;
}

}  // namespace streammetrics::loadgen
