// IngestProcess: the ingest service as one object, so its start and shutdown order is written (and
// tested) in one place instead of in main. It owns the metrics endpoint, the Kafka sink, the byte
// budget, the IngestService and its gRPC server, and the OTLP door (otlp/otlp_service.h) on a
// server of its own.
//
// Start order: metrics endpoint, Kafka sink (checks the topics), gRPC server. The sink's health
// (a producer rebuilt after a fatal error) drives the server's health status.
// Stop order, the one that loses nothing: not serving; the server stops accepting streams and
// lets open ones finish within shutdown_grace (then cancels them); the sink flushes what the
// streams accepted within flush_timeout.
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_PROCESS_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_PROCESS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ingest-service/ingest_config.h"

namespace streammetrics::ingest {

class IngestProcess {
 public:
  // Builds every part and starts serving. Fails with the first part's error, every part built so
  // far stopped again: InvalidArgument for bad producer properties, FailedPrecondition or
  // Unavailable when the topics are missing or no broker answers, Unavailable for an address
  // that cannot be bound.
  static absl::StatusOr<std::unique_ptr<IngestProcess>> Start(IngestConfig config);

  // Stop(), if not called yet.
  ~IngestProcess();

  // Samples the gauges that are read rather than counted (queue depth, bytes in flight), so the
  // hot path pays nothing for them. Call about once a second.
  void Supervise();

  // Stops in the order above. Returns OK when Kafka confirmed everything the streams accepted,
  // else DeadlineExceeded saying how much it did not (those clients got no ack and resend).
  // Idempotent.
  absl::Status Stop();

  // The bound IngestService port (the chosen one when the address asked for port 0).
  int port() const;
  // The bound OTLP port, or 0 when the OTLP door is off.
  int otlp_port() const;

 private:
  struct Parts;
  explicit IngestProcess(std::unique_ptr<Parts> parts);

  std::unique_ptr<Parts> parts_;
  bool stopped_ = false;
  absl::Status stop_status_;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_PROCESS_H_
