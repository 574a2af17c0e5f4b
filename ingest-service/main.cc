// streammetrics-ingest: loads the configuration, starts the IngestProcess (which owns the start
// and shutdown order), samples its gauges once a second, and stops it on SIGTERM/SIGINT: stop
// accepting, let open streams finish, flush Kafka, exit.
// Exit codes: 0 clean stop, 1 a part failed or Kafka did not confirm everything, 2 bad
// configuration (found when loading it, or when a part refused a setting at start).
#include <cstring>
#include <memory>

#include "ingest-service/ingest_config.h"
#include "ingest-service/ingest_process.h"
#include "lib/common/log.h"
#include "lib/common/protobuf_log.h"
#include "lib/common/stop_signals.h"

int main(int argc, char** argv) {
  using namespace streammetrics;
  using namespace streammetrics::ingest;

  // Before any thread starts: they inherit the blocked mask, and main waits for the signals.
  const StopSignals stop_signals = StopSignals::Block();
  RouteProtobufLogs();  // protobuf's own lines into the structured log, rate-bounded

  absl::StatusOr<IngestConfig> config = LoadIngestConfig(argc, argv);
  if (absl::IsCancelled(config.status())) return 0;  // --help
  if (!config.ok()) {
    SM_LOG(Error, "config_invalid").Kv("status", config.status().ToString());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<IngestProcess>> process = IngestProcess::Start(*std::move(config));
  if (!process.ok()) {
    SM_LOG(Error, "ingest_start_failed").Kv("status", process.status().ToString());
    return absl::IsInvalidArgument(process.status()) ? 2 : 1;
  }

  int signal = -1;
  while (signal < 0) {
    (*process)->Supervise();
    signal = stop_signals.Wait(absl::Seconds(1));
  }
  SM_LOG(Info, "ingest_stopping").Kv("signal", strsignal(signal));
  return (*process)->Stop().ok() ? 0 : 1;
}
