#include "lib/client/client_core.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/client/utf8_check.h"
#include "lib/common/status_macros.h"

namespace streammetrics::client {
ClientCore::ClientCore(MetricsClientOptions options, uint64_t first_sequence)
    : options_(std::move(options)),
      channel_(options_.channel),
      stub_(v1::IngestService::NewStub(channel_)),
      window_(BatchWindowOptions{options_.client_id, first_sequence, options_.max_batch_events,
                                 options_.max_batch_delay, options_.max_failed_acks}),
      backoff_(BackoffOptions{options_.initial_backoff, options_.max_backoff}) {
  runner_ = std::thread([this] { Run(); });
}

ClientCore::~ClientCore() {
  Close(absl::ZeroDuration()).IgnoreError();  // returns at once when already closed
}

absl::Status ClientCore::Send(v1::MetricEvent event, absl::Duration timeout) {
  RETURN_IF_ERROR(CheckUtf8(event));
  bool sealed = false;
  {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return close_started_ || window_.buffered_events() < options_.max_buffered_events;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&room), timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("the client's buffer is full (", options_.max_buffered_events,
                       " events waiting for acks) after ", absl::FormatDuration(timeout), "; ",
                       BacklogLocked()));
    }
    if (close_started_) return absl::FailedPreconditionError("Send after Close");
    const bool opens_batch = window_.OpenBatchDueAt() == absl::InfiniteFuture();
    const uint64_t sealed_before = window_.counters().batches_sealed;
    window_.Add(std::move(event), absl::Now());
    sealed = window_.counters().batches_sealed != sealed_before;
    if (opens_batch && !sealed) wake_ = true;  // the runner must learn the new deadline
  }
  if (sealed) MaybeWrite();
  return absl::OkStatus();
}

absl::Status ClientCore::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  uint64_t target;
  {
    absl::MutexLock lock(&mu_);
    window_.SealOpen();
    target = window_.last_sealed_sequence();
  }
  MaybeWrite();
  absl::MutexLock lock(&mu_);
  auto done = [this, target]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return window_.DoneThrough(target); };
  if (!mu_.AwaitWithDeadline(absl::Condition(&done), deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("flush: not every event was acknowledged after ",
                     absl::FormatDuration(timeout), "; ", BacklogLocked()));
  }
  // Counted from the previous Flush, not from this call: a batch given up between the Send and
  // the Flush (a fast permanent refusal) is still news to the caller.
  const uint64_t abandoned_total = window_.counters().events_in_abandoned_batches;
  const uint64_t abandoned = abandoned_total - abandoned_reported_;
  abandoned_reported_ = abandoned_total;
  if (abandoned > 0) {
    return absl::DataLossError(
        absl::StrCat("flush: ", abandoned,
                     " events were given up, not known to be stored: ", last_abandon_error_));
  }
  return absl::OkStatus();
}

absl::Status ClientCore::Close(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  {
    absl::MutexLock lock(&mu_);
    if (close_started_) {
      mu_.Await(absl::Condition(&closed_));
      return close_status_;
    }
    close_started_ = true;
  }
  absl::Status status = Flush(deadline - absl::Now());
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    wake_ = true;
  }
  MaybeWrite();  // half-closes an idle live stream
  auto stream_gone = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stream_ == nullptr || stop_; };
  std::shared_ptr<AckStream> to_cancel;
  {
    absl::MutexLock lock(&mu_);
    if (!status.ok() || !mu_.AwaitWithDeadline(absl::Condition(&stream_gone), deadline)) {
      to_cancel = stream_;
    }
  }
  // Cancelling ends the call promptly (also one not yet started: the context remembers).
  if (to_cancel != nullptr) to_cancel->Cancel();
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&stream_gone));
    stop_ = true;
  }
  runner_.join();
  absl::MutexLock lock(&mu_);
  close_status_ = status;
  closed_ = true;
  return status;
}

MetricsClient::Stats ClientCore::stats() const {
  absl::MutexLock lock(&mu_);
  const BatchWindowCounters& c = window_.counters();
  MetricsClient::Stats s;
  s.events_sent = c.events_added;
  s.events_accepted = c.events_accepted;
  s.events_rejected = c.events_rejected;
  s.events_acked_durable = c.events_accepted + c.events_rejected;
  s.batches_sent = c.batches_sealed;
  s.batches_acked_durable = c.batches_durable;
  s.batches_rejected = c.batches_rejected;
  s.events_in_rejected_batches = c.events_in_rejected_batches;
  s.last_rejection = last_rejection_;
  s.batches_failed = c.batches_failed;
  s.batches_resent = c.batches_resent;
  s.batches_abandoned = c.batches_abandoned;
  s.events_in_abandoned_batches = c.events_in_abandoned_batches;
  s.last_abandon_error = last_abandon_error_;
  s.reconnects = streams_started_ > 0 ? streams_started_ - 1 : 0;
  s.stream_failures = stream_failures_;
  s.events_in_flight = window_.buffered_events();
  return s;
}

void ClientCore::OnAck(const v1::BatchAck& ack) {
  // The callback runs before the ack is applied, so that once Flush sees a batch done its
  // callback has returned (a load generator's ledger is complete after Flush). Only this
  // stream's single read delivers acks and the batch cannot change in between: OnStreamDone
  // comes after the last read.
  if (options_.on_ack) {
    std::optional<BatchWindow::Waiting> waiting;
    {
      absl::MutexLock lock(&mu_);
      waiting = window_.Find(ack.sequence());
    }
    if (waiting.has_value()) options_.on_ack(ack, *waiting->batch, waiting->first_written);
  }
  AckOutcome outcome;
  {
    absl::MutexLock lock(&mu_);
    outcome = window_.OnAck(ack);
    if (outcome.kind == AckOutcome::Kind::kIgnored) return;
    backoff_.Reset();  // the server answers: this connection is healthy
    if (outcome.kind == AckOutcome::Kind::kRejected) last_rejection_ = ack.error();
    if (outcome.kind == AckOutcome::Kind::kAbandoned) last_abandon_error_ = ack.error();
  }
  if (outcome.kind == AckOutcome::Kind::kResend) MaybeWrite();
}

void ClientCore::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (ok) window_.OnWriteCompleted(writing_sequence_);
    if (!ok) stream_live_ = false;  // broken: OnStreamDone follows and requeues
  }
  MaybeWrite();
}

void ClientCore::OnStreamDone(const grpc::Status& status, absl::Duration retry_after) {
  absl::MutexLock lock(&mu_);
  retry_after_ = retry_after;
  window_.OnStreamLost();
  stream_live_ = false;
  write_in_flight_ = false;
  stream_done_ = true;
  if (!status.ok()) {
    ++stream_failures_;
    last_stream_error_ =
        absl::StrCat("stream ended: code ", status.error_code(), " ", status.error_message());
  }
}

void ClientCore::MaybeWrite() {
  std::shared_ptr<AckStream> stream;
  std::shared_ptr<const v1::MetricBatch> batch;
  {
    absl::MutexLock lock(&mu_);
    if (!stream_live_ || write_in_flight_ || writes_finished_) return;
    batch = window_.NextToWrite();
    if (batch == nullptr && !closing_) return;
    stream = stream_;
    if (batch == nullptr) {
      writes_finished_ = true;
    } else {
      write_in_flight_ = true;
      writing_sequence_ = batch->sequence();
      window_.MarkWritten(batch->sequence(), absl::Now());
    }
  }
  if (batch == nullptr) {
    stream->FinishWrites();
    return;
  }
  if (stream->Write(std::move(batch))) return;
  // The call stopped taking writes under us; its OnStreamDone requeues the batch.
  absl::MutexLock lock(&mu_);
  if (stream_ == stream) {
    write_in_flight_ = false;
    stream_live_ = false;
  }
}

absl::Time ClientCore::RunnerDeadlineLocked() const {
  absl::Time deadline = window_.OpenBatchDueAt();
  if (stream_ == nullptr && !closing_) deadline = std::min(deadline, next_connect_at_);
  return deadline;
}

std::string ClientCore::BacklogLocked() const {
  return absl::StrCat(window_.buffered_events(), " events unacknowledged in ",
                      window_.unacked_batches(), " batches",
                      last_stream_error_.empty() ? "" : "; last ", last_stream_error_);
}

void ClientCore::Run() {
  auto has_work = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stream_done_ || stop_; };
  while (true) {
    std::shared_ptr<AckStream> ended;
    std::shared_ptr<AckStream> to_start;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(&has_work), RunnerDeadlineLocked());
      wake_ = false;
      if (stop_) return;  // Close saw the stream gone
      const absl::Time now = absl::Now();
      window_.SealIfDue(now);
      if (stream_done_) {
        stream_done_ = false;
        ended = std::move(stream_);
        stream_ = nullptr;
        // A server that said how long to wait (RESOURCE_EXHAUSTED) is not asked sooner.
        next_connect_at_ = now + std::max(backoff_.Next(), std::exchange(retry_after_, {}));
      }
      if (stream_ == nullptr && !closing_ && now >= next_connect_at_) {
        to_start = std::make_shared<AckStream>(stub_.get(), this, &options_.security);
        stream_ = to_start;
        writes_finished_ = false;
        ++streams_started_;
      }
    }
    ended.reset();  // its OnDone has run: gRPC is done with it
    if (to_start != nullptr) {
      to_start->Start();
      absl::MutexLock lock(&mu_);
      if (stream_ == to_start && !stream_done_) stream_live_ = true;
    }
    MaybeWrite();
  }
}

}  // namespace streammetrics::client
