#include "lib/client/batch_window.h"

#include <utility>

namespace streammetrics::client {

BatchWindow::BatchWindow(BatchWindowOptions options)
    : options_(std::move(options)), next_sequence_(options_.first_sequence) {}

void BatchWindow::Add(v1::MetricEvent event, absl::Time now) {
  if (open_ == nullptr) {
    open_ = std::make_shared<v1::MetricBatch>();
    open_->set_client_id(options_.client_id);
    open_since_ = now;
  }
  *open_->add_events() = std::move(event);
  ++buffered_events_;
  ++counters_.events_added;
  if (static_cast<size_t>(open_->events_size()) >= options_.max_batch_events) SealOpen();
}

bool BatchWindow::SealIfDue(absl::Time now) {
  if (open_ == nullptr || now < OpenBatchDueAt()) return false;
  SealOpen();
  return true;
}

void BatchWindow::SealOpen() {
  if (open_ == nullptr) return;
  const uint64_t sequence = next_sequence_++;
  open_->set_sequence(sequence);
  batches_[sequence].batch = std::move(open_);
  queued_.insert(sequence);
  open_.reset();
  open_since_ = absl::InfiniteFuture();
  ++counters_.batches_sealed;
}

absl::Time BatchWindow::OpenBatchDueAt() const {
  return open_ == nullptr ? absl::InfiniteFuture() : open_since_ + options_.max_batch_delay;
}

std::shared_ptr<const v1::MetricBatch> BatchWindow::NextToWrite() const {
  if (queued_.empty()) return nullptr;
  return batches_.at(*queued_.begin()).batch;
}

bool BatchWindow::MarkWritten(uint64_t sequence, absl::Time now) {
  if (queued_.erase(sequence) == 0) return false;
  Unacked& b = batches_.at(sequence);
  if (b.first_written == absl::InfiniteFuture()) b.first_written = now;
  b.written = true;
  b.resend_uncounted = b.write_completed;
  return b.write_completed;
}

void BatchWindow::CountResendOnce(Unacked& b) {
  if (b.resend_uncounted) ++counters_.batches_resent;
  b.resend_uncounted = false;
}

void BatchWindow::OnWriteCompleted(uint64_t sequence) {
  auto it = batches_.find(sequence);
  if (it == batches_.end()) return;  // acked before gRPC reported the write done
  CountResendOnce(it->second);
  it->second.write_completed = true;
}

std::optional<BatchWindow::Waiting> BatchWindow::Find(uint64_t sequence) const {
  auto it = batches_.find(sequence);
  if (it == batches_.end()) return std::nullopt;
  return Waiting{.batch = it->second.batch, .first_written = it->second.first_written};
}

AckOutcome BatchWindow::OnAck(const v1::BatchAck& ack) {
  AckOutcome outcome;
  auto it = batches_.find(ack.sequence());
  if (it == batches_.end()) {
    ++counters_.unexpected_acks;
    return outcome;
  }
  Unacked& b = it->second;
  // An ack of a written batch proves the server read that write, even when gRPC has not yet
  // reported it complete (the ack and the write's completion race).
  if (b.written) {
    CountResendOnce(b);
    b.write_completed = true;
  }
  outcome.events = static_cast<size_t>(b.batch->events_size());
  outcome.first_written = b.first_written;
  switch (ack.status()) {
    case v1::ACK_STATUS_DURABLE:
      outcome.kind = AckOutcome::Kind::kDurable;
      ++counters_.batches_durable;
      counters_.events_accepted += ack.events_accepted();
      counters_.events_rejected += ack.events_rejected();
      break;
    case v1::ACK_STATUS_REJECTED:
      outcome.kind = AckOutcome::Kind::kRejected;
      ++counters_.batches_rejected;
      counters_.events_in_rejected_batches += outcome.events;
      break;
    case v1::ACK_STATUS_FAILED:
      // Only a written batch can fail; a queued one is going out again anyway.
      if (!b.written) {
        ++counters_.unexpected_acks;
        return AckOutcome{AckOutcome::Kind::kIgnored, outcome.events, outcome.first_written};
      }
      ++counters_.batches_failed;
      if (ack.permanent() || ++b.failed_acks >= options_.max_failed_acks) {
        outcome.kind = AckOutcome::Kind::kAbandoned;
        ++counters_.batches_abandoned;
        counters_.events_in_abandoned_batches += outcome.events;
        break;
      }
      b.written = false;
      queued_.insert(ack.sequence());
      outcome.kind = AckOutcome::Kind::kResend;
      return outcome;
    default:
      ++counters_.unexpected_acks;
      return AckOutcome{AckOutcome::Kind::kIgnored, outcome.events, outcome.first_written};
  }
  queued_.erase(ack.sequence());
  buffered_events_ -= outcome.events;
  batches_.erase(it);
  return outcome;
}

size_t BatchWindow::OnStreamLost() {
  size_t requeued = 0;
  for (auto& [sequence, b] : batches_) {
    if (!b.written) continue;
    b.written = false;
    b.resend_uncounted = false;  // that attempt never completed: it was no resend
    queued_.insert(sequence);
    ++requeued;
  }
  return requeued;
}

bool BatchWindow::DoneThrough(uint64_t sequence) const {
  return batches_.empty() || batches_.begin()->first > sequence;
}

}  // namespace streammetrics::client
