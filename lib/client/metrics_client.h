// MetricsClient: the library services link to stream metric events to the StreamMetrics ingest
// service (IngestService/IngestStream). Send() hands over one event and returns at once; the
// library batches events (by count and age), numbers each batch with an increasing sequence under
// the client's id, writes batches on one bidirectional stream, and keeps every batch until the
// server acknowledges it. A batch the server could not store (FAILED ack) is resent unchanged, up
// to max_failed_acks times (a FAILED ack marked permanent is not resent: it is reported); when
// the stream breaks, the client reconnects with exponential backoff and resends exactly the
// batches without an ack, in sequence order and with their original sequence, so the pipeline
// counts every event once. Memory is bounded: when max_buffered_events are waiting, Send blocks.
//
//   auto client = streammetrics::client::MetricsClient::Create({.target = "127.0.0.1:50051",
//                                                              .client_id = "checkout-pod-3"});
//   if (!client.ok()) ...;
//   absl::Status s = (*client)->Send(event, absl::Seconds(1));  // DeadlineExceeded: backpressure
//   ...
//   (*client)->Close(absl::Seconds(10));  // flush, then end the stream
//
// Thread-safety: every method may be called from any thread. The client owns one thread of its own
// (batch timer and reconnection); gRPC's callback threads run the stream.
#ifndef STREAMMETRICS_LIB_CLIENT_METRICS_CLIENT_H_
#define STREAMMETRICS_LIB_CLIENT_METRICS_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/security/client_security.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::client {

class ClientCore;

// Called for every ack of a batch the client is waiting on (a resent batch gets one per attempt,
// e.g. FAILED then DURABLE), with the ack, the batch it answers (whose events the ack's
// rejections index) and the time the batch was first written to a stream.
// Calls are serialized, and a batch's callback returns before Flush can count that batch done, so
// after Flush every ack of the flushed events has been reported. Runs on one of the library's
// gRPC callback threads: it must return quickly and must not call back into the client.
using AckCallback = std::function<void(const v1::BatchAck& ack, const v1::MetricBatch& batch,
                                       absl::Time first_sent)>;

struct MetricsClientOptions {
  // Address of the ingest service ("host:port"); ignored when `channel` is set.
  std::string target = "127.0.0.1:50051";
  // A channel to use instead of one to `target` (custom credentials or arguments, tests).
  std::shared_ptr<grpc::Channel> channel;
  // TLS to the server (its CA, an optional client certificate) and the bearer token sent with
  // every stream (docs/security.md). TLS settings are ignored when `channel` is given; the token
  // is always sent.
  security::ClientSecurityConfig security;
  // Stable identity of this client instance, 1..128 bytes, no control characters. Required; two
  // clients must never share one (it is part of every event's idempotency key).
  std::string client_id;
  // Sequence of the first batch. Unset: the wall clock in microseconds at Create, so a restarted
  // process under the same client_id keeps increasing (as long as the previous one sent less
  // than one batch per microsecond on average).
  std::optional<uint64_t> first_sequence;
  // A batch is written when it holds this many events (the server accepts 1000 by default)...
  size_t max_batch_events = 500;
  // ...or at most this long after its first event was sent. Small, so that at light load an ack
  // comes in milliseconds; under load batches fill to max_batch_events before it passes anyway.
  // (50 ms, the old default, put 50 ms on every ack of a lightly loaded client: bench/latency.sh.)
  absl::Duration max_batch_delay = absl::Milliseconds(5);
  // FAILED acks one batch may get before the client gives it up and reports it (Stats, Flush);
  // with the server's 120 s delivery timeout, 10 ride out a Kafka outage of about 20 minutes.
  // A FAILED ack the server marks permanent gives the batch up at once.
  uint32_t max_failed_acks = 10;
  // Events sent and not yet acknowledged, at most; Send blocks while this many are waiting.
  size_t max_buffered_events = 100'000;
  // Reconnection backoff: from `initial_backoff`, doubling up to `max_backoff`, +/-20% jitter.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // How long the destructor lets Close flush.
  absl::Duration destructor_close_timeout = absl::Seconds(1);
  // Optional; see AckCallback.
  AckCallback on_ack;
};

class MetricsClient {
 public:
  // Counters since Create. Every event sent ends in exactly one of: events_acked_durable,
  // events_in_rejected_batches, events_in_abandoned_batches, events_in_flight.
  struct Stats {
    uint64_t events_sent = 0;  // taken by Send
    // Durable per the acks: stored in metrics-events (accepted) or dead-lettered by validation.
    uint64_t events_acked_durable = 0;
    uint64_t events_accepted = 0;
    uint64_t events_rejected = 0;  // of events_acked_durable: dead-lettered by validation
    uint64_t batches_sent = 0;     // batches formed (each written at least once)
    uint64_t batches_acked_durable = 0;
    // Batches refused whole by the server (resending cannot help), their events, and the error
    // of the latest such ack.
    uint64_t batches_rejected = 0;
    uint64_t events_in_rejected_batches = 0;
    std::string last_rejection;
    uint64_t batches_failed = 0;  // FAILED acks
    // Batches given up after a permanent FAILED ack or max_failed_acks of them (not known to be
    // stored), their events, and the error of the latest such ack.
    uint64_t batches_abandoned = 0;
    uint64_t events_in_abandoned_batches = 0;
    std::string last_abandon_error;
    uint64_t batches_resent = 0;    // writes repeating an earlier write (FAILED ack or reconnect)
    uint64_t reconnects = 0;        // streams opened after the first
    uint64_t stream_failures = 0;   // streams that ended with an error
    uint64_t events_in_flight = 0;  // sent and not yet acknowledged (batched or unacked)
  };

  // Validates `options` and starts connecting. Fails with InvalidArgument naming the bad option
  // (client_id, sizes, durations); connection problems never fail Create, they are retried.
  static absl::StatusOr<std::unique_ptr<MetricsClient>> Create(MetricsClientOptions options);

  // Closes with options.destructor_close_timeout; events still unacknowledged then are dropped.
  ~MetricsClient();
  MetricsClient(const MetricsClient&) = delete;
  MetricsClient& operator=(const MetricsClient&) = delete;

  // Queues `event`. Blocks while max_buffered_events are waiting for acks: OK once queued,
  // DeadlineExceeded if there was still no room after `timeout` (the event is not queued),
  // FailedPrecondition once Close has been called, InvalidArgument naming the field when one of
  // its strings is not valid UTF-8 (it would make the server refuse its whole batch).
  absl::Status Send(v1::MetricEvent event, absl::Duration timeout);

  // Writes the partial batch at once and waits until every event sent before the call is
  // acknowledged (durable, or in a rejected batch) or given up. OK then, unless batches were
  // given up since the previous Flush returned (or since the client started): DataLoss saying how
  // many events and why; each given-up batch is reported by one Flush. DeadlineExceeded saying how
  // much is still unacknowledged after `timeout` (those events stay queued and keep being
  // retried).
  absl::Status Flush(absl::Duration timeout);

  // Refuses further Sends, flushes (as Flush), half-closes and waits for the server to end the
  // stream; when the flush times out the stream is cancelled instead. Returns the flush's result.
  // Idempotent: later calls wait for the first to finish and return its result.
  absl::Status Close(absl::Duration timeout);

  Stats stats() const;

 private:
  MetricsClient(std::unique_ptr<ClientCore> core, absl::Duration destructor_close_timeout);

  std::unique_ptr<ClientCore> core_;
  absl::Duration destructor_close_timeout_;
};

}  // namespace streammetrics::client

#endif  // STREAMMETRICS_LIB_CLIENT_METRICS_CLIENT_H_
