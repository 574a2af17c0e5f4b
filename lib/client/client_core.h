// ClientCore: the machinery behind MetricsClient (see metrics_client.h for the contract). It
// owns the BatchWindow, the current AckStream, the reconnection backoff and the client's one
// thread (the "runner"), and decides what happens next: which batch to write, when a partial
// batch is due, when to reconnect, when to half-close.
//
// Why the callback API plus one thread: reactions (acks, write completions, the end of a call)
// never block — each takes mu_ briefly and may start the next write. The runner exists only for
// what has no gRPC event behind it: the max_batch_delay timer and the wait between reconnection
// attempts; it also starts new calls and drops ended ones, so no reactor is ever created or freed
// inside another reactor's reaction.
//
// Locking: mu_ guards everything below it; it is never held while calling into gRPC (AckStream)
// or the user's ack callback. At most one AckStream exists at a time; a new one is started only
// after the previous one reported OnStreamDone and was dropped.
#ifndef STREAMMETRICS_LIB_CLIENT_CLIENT_CORE_H_
#define STREAMMETRICS_LIB_CLIENT_CLIENT_CORE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/client/ack_stream.h"
#include "lib/client/batch_window.h"
#include "lib/client/metrics_client.h"
#include "lib/common/backoff.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::client {

class ClientCore final : public AckStream::Listener {
 public:
  // `options` must be valid (MetricsClient::Create checks). Starts the runner, which connects.
  ClientCore(MetricsClientOptions options, uint64_t first_sequence);
  // Closes with a zero timeout if Close was never called, so the runner and stream are gone.
  ~ClientCore() override;

  absl::Status Send(v1::MetricEvent event, absl::Duration timeout);
  absl::Status Flush(absl::Duration timeout);
  absl::Status Close(absl::Duration timeout);
  MetricsClient::Stats stats() const;

  // AckStream::Listener (gRPC callback threads).
  void OnAck(const v1::BatchAck& ack) override;
  void OnWriteDone(bool ok) override;
  void OnStreamDone(const grpc::Status& status, absl::Duration retry_after) override;

 private:
  void Run();
  // Starts the next write, or the half-close once closing and nothing is left, when the stream is
  // live and idle. Call without mu_ after anything that may have made a write possible.
  void MaybeWrite() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Time RunnerDeadlineLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string BacklogLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const MetricsClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> stub_;

  mutable absl::Mutex mu_;
  BatchWindow window_ ABSL_GUARDED_BY(mu_);
  Backoff backoff_ ABSL_GUARDED_BY(mu_);

  // The current call, if any, and its state.
  std::shared_ptr<AckStream> stream_ ABSL_GUARDED_BY(mu_);
  bool stream_live_ ABSL_GUARDED_BY(mu_) = false;  // started and still taking writes
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t writing_sequence_ ABSL_GUARDED_BY(mu_) = 0;  // of the write in flight
  bool writes_finished_ ABSL_GUARDED_BY(mu_) = false;   // half-close requested
  bool stream_done_ ABSL_GUARDED_BY(mu_) = false;       // OnStreamDone came; runner drops it
  absl::Time next_connect_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_stream_error_ ABSL_GUARDED_BY(mu_);
  absl::Duration retry_after_ ABSL_GUARDED_BY(mu_);  // asked by the server that ended the stream

  // Runner wake-ups: new open batch (new deadline), stream ended, stop.
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  // Close: started (Send refused), closing_ (no new streams, half-close when idle), finished.
  bool close_started_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);

  uint64_t streams_started_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t stream_failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_rejection_ ABSL_GUARDED_BY(mu_);
  std::string last_abandon_error_ ABSL_GUARDED_BY(mu_);
  // Events in abandoned batches that some Flush has already reported.
  uint64_t abandoned_reported_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread runner_;
};

}  // namespace streammetrics::client

#endif  // STREAMMETRICS_LIB_CLIENT_CLIENT_CORE_H_
