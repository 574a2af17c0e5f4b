// BatchWindow: the client library's bookkeeping of every event between Send and its ack — the
// open batch being filled, sealed batches waiting to be written, and written batches waiting for
// their BatchAck. It decides when a batch is sealed (by size or age), which batch is written next
// (lowest sequence first, so a resend after a reconnect goes out in sequence order), what an ack
// does (done, or queued again for a resend with the same sequence and events) and how many events
// are buffered. Pure code with no I/O and no clock of its own (callers pass `now`); not
// thread-safe (MetricsClient guards it with its mutex).
//
// Ownership: the window owns every batch. Batches are handed out as shared_ptr<const> so a write
// in flight keeps its message alive even if an ack retires the batch meanwhile.
#ifndef STREAMMETRICS_LIB_CLIENT_BATCH_WINDOW_H_
#define STREAMMETRICS_LIB_CLIENT_BATCH_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::client {

struct BatchWindowOptions {
  std::string client_id;
  // Sequence of the first batch; >= 1. Later batches take the following numbers.
  uint64_t first_sequence = 1;
  // A batch is sealed when it holds this many events (>= 1)...
  size_t max_batch_events = 500;
  // ...or when its first event has waited this long.
  absl::Duration max_batch_delay = absl::Milliseconds(5);
  // FAILED acks one batch may get before it is given up (>= 1). A FAILED ack marked permanent
  // gives it up at once: resending it would fail the same way.
  uint32_t max_failed_acks = 10;
};

// Running totals over the window's life.
struct BatchWindowCounters {
  uint64_t events_added = 0;
  uint64_t batches_sealed = 0;
  // Completed batch writes that repeated an earlier completed write (FAILED ack or reconnect).
  uint64_t batches_resent = 0;
  uint64_t batches_durable = 0;
  // From DURABLE acks: events stored in metrics-events / dead-lettered by validation.
  uint64_t events_accepted = 0;
  uint64_t events_rejected = 0;
  uint64_t batches_rejected = 0;
  // Events in REJECTED batches (done, but nothing stored).
  uint64_t events_in_rejected_batches = 0;
  uint64_t batches_failed = 0;  // FAILED acks (each queued the batch again, or gave it up)
  // Batches given up (a permanent FAILED ack, or max_failed_acks of them) and their events:
  // done, not known to be stored.
  uint64_t batches_abandoned = 0;
  uint64_t events_in_abandoned_batches = 0;
  uint64_t unexpected_acks = 0;  // acks for no batch we are waiting on; ignored
};

// What an ack did.
struct AckOutcome {
  enum class Kind {
    kDurable,    // the batch is done and stored
    kRejected,   // the batch is done; the server refused it whole
    kResend,     // FAILED: the batch is queued again
    kAbandoned,  // FAILED for good, or too often: the batch is done, not known to be stored
    kIgnored,    // no such batch is waiting for an ack (duplicate, or unknown status)
  };
  Kind kind = Kind::kIgnored;
  size_t events = 0;
  // When the batch was first written (InfiniteFuture if it never was).
  absl::Time first_written = absl::InfiniteFuture();
};

class BatchWindow {
 public:
  explicit BatchWindow(BatchWindowOptions options);

  // Appends `event` to the open batch, opening one at `now` if there is none; seals the batch
  // when it reaches max_batch_events. Never refuses: bounding the buffer is the caller's job
  // (see buffered_events()).
  void Add(v1::MetricEvent event, absl::Time now);

  // Seals the open batch when its first event is at least max_batch_delay old at `now`.
  // Returns true when it sealed one.
  bool SealIfDue(absl::Time now);

  // Seals the open batch, if any, whatever its size and age (Flush).
  void SealOpen();

  // When the open batch must be sealed; InfiniteFuture when there is none.
  absl::Time OpenBatchDueAt() const;

  // The queued batch with the lowest sequence, or null when none is queued.
  std::shared_ptr<const v1::MetricBatch> NextToWrite() const;

  // Records that batch `sequence` was handed to the stream at `now`: it leaves the queue and waits
  // for its ack (first_written is set on the first attempt). Returns true when an earlier write
  // of it completed, i.e. this write is a resend. No-op returning false for a sequence that is
  // not queued.
  bool MarkWritten(uint64_t sequence, absl::Time now);

  // The write of batch `sequence` completed (gRPC took the message). A resend is counted once,
  // at the first of its write completing or its ack arriving (they race), never in MarkWritten,
  // so an attempt on a stream that was already broken is not counted. No-op for a batch already
  // acked.
  void OnWriteCompleted(uint64_t sequence);

  // A batch waiting for its ack, and when it was first written (InfiniteFuture if never).
  struct Waiting {
    std::shared_ptr<const v1::MetricBatch> batch;
    absl::Time first_written = absl::InfiniteFuture();
  };
  // The unacked batch `sequence`; nullopt when no such batch waits for an ack.
  std::optional<Waiting> Find(uint64_t sequence) const;

  // Applies one BatchAck. DURABLE and REJECTED retire the batch (whether written or queued: an
  // ack is final); FAILED queues a written batch again, unchanged, unless it is permanent or the
  // batch's max_failed_acks-th, which retire it as abandoned. Anything else is ignored.
  AckOutcome OnAck(const v1::BatchAck& ack);

  // The stream ended: every written batch without an ack is queued again. Returns how many.
  size_t OnStreamLost();

  // Events in the open batch and in every batch not yet acked.
  size_t buffered_events() const { return buffered_events_; }
  // Sealed batches not yet acked (queued or written).
  size_t unacked_batches() const { return batches_.size(); }
  // Written batches waiting for their ack on the current stream.
  size_t written_batches() const { return batches_.size() - queued_.size(); }
  // Sequence of the last sealed batch; first_sequence - 1 before any.
  uint64_t last_sealed_sequence() const { return next_sequence_ - 1; }
  // True when every batch with a sequence <= `sequence` is done (durable, rejected or abandoned).
  bool DoneThrough(uint64_t sequence) const;

  const BatchWindowCounters& counters() const { return counters_; }

 private:
  struct Unacked {
    std::shared_ptr<const v1::MetricBatch> batch;
    absl::Time first_written = absl::InfiniteFuture();
    bool written = false;           // on the current stream, waiting for an ack
    bool write_completed = false;   // some write of it completed (or was answered)
    bool resend_uncounted = false;  // the current write is a resend not yet counted
    uint32_t failed_acks = 0;
  };
  // Counts `b`'s current write as a resend if it is one and not yet counted.
  void CountResendOnce(Unacked& b);

  BatchWindowOptions options_;
  uint64_t next_sequence_;
  std::shared_ptr<v1::MetricBatch> open_;  // null when no batch is open
  absl::Time open_since_ = absl::InfiniteFuture();
  std::map<uint64_t, Unacked> batches_;  // every sealed, unacked batch
  std::set<uint64_t> queued_;            // the subset waiting to be written
  size_t buffered_events_ = 0;
  BatchWindowCounters counters_;
};

}  // namespace streammetrics::client

#endif  // STREAMMETRICS_LIB_CLIENT_BATCH_WINDOW_H_
