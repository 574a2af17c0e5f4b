#include "ingest-service/stream_reactors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "lib/common/grpc_status.h"
#include "lib/common/log.h"

namespace streammetrics::ingest {
namespace {

v1::Rejection BatchRejection(const BatchOutcome& o) {
  v1::Rejection r;
  r.set_batch_sequence(o.sequence);
  r.set_batch_reason(o.batch_violation->reason);
  r.set_message(o.batch_violation->message);
  return r;
}

v1::BatchAck MakeAck(BatchOutcome o) {
  v1::BatchAck ack;
  ack.set_sequence(o.sequence);
  if (o.batch_violation) {
    ack.set_status(v1::ACK_STATUS_REJECTED);
    ack.set_batch_reject_reason(o.batch_violation->reason);
    ack.set_error(o.batch_violation->message);
    return ack;
  }
  ack.set_events_accepted(o.result.accepted);
  ack.set_events_rejected(o.result.rejected);
  ack.set_events_failed(o.result.failed);
  for (v1::Rejection& r : o.rejections) *ack.add_rejections() = std::move(r);
  if (o.result.failed == 0) {
    ack.set_status(v1::ACK_STATUS_DURABLE);
  } else if (o.result.failed_permanently > 0) {
    ack.set_status(v1::ACK_STATUS_FAILED);
    ack.set_permanent(true);
    ack.set_error(absl::StrCat(o.result.failed_permanently, " of ", o.events,
                               " events were refused by Kafka for good (",
                               o.result.first_failure.message(),
                               "); resending this batch fails the same way. The service's "
                               "topics do not take what it writes: tell its operator."));
  } else {
    ack.set_status(v1::ACK_STATUS_FAILED);
    ack.set_error(absl::StrCat(o.result.failed, " of ", o.events,
                               " events were not confirmed by Kafka (",
                               o.result.first_failure.message(),
                               "); resend this batch with the same sequence: stored events are "
                               "counted once."));
  }
  return ack;
}

}  // namespace

void SummaryReactor::ListRejection(v1::Rejection rejection) {
  if (static_cast<size_t>(summary_.first_rejections_size()) < deps_.summary_rejections) {
    *summary_.add_first_rejections() = std::move(rejection);
  }
}

void SummaryReactor::RecordRejectionsLocked(const std::vector<v1::Rejection>& rejections) {
  for (const v1::Rejection& r : rejections) ListRejection(r);
}

void SummaryReactor::RecordOutcomeLocked(BatchOutcome o) {
  auto& s = summary_;
  s.set_batches_received(s.batches_received() + 1);
  s.set_events_received(s.events_received() + o.events);
  if (o.batch_violation) {
    s.set_batches_rejected(s.batches_rejected() + 1);
    ListRejection(BatchRejection(o));
    return;
  }
  s.set_events_accepted(s.events_accepted() + o.result.accepted);
  s.set_events_rejected(s.events_rejected() + o.result.rejected);
  // Counted by reason once durable, like events_rejected; listed when found (see above).
  for (const v1::Rejection& r : o.rejections) ++rejected_by_reason_[r.reason()];
  if (o.result.failed > 0) {
    events_failed_ += o.result.failed;
    if (failed_sequences_.size() < 20) failed_sequences_.push_back(o.sequence);
    if (first_failure_.empty() || (o.result.failed_permanently > 0 && events_refused_ == 0)) {
      first_failure_ = std::string(o.result.first_failure.message());
    }
    events_refused_ += o.result.failed_permanently;
  }
}

std::function<void()> SummaryReactor::NextActionLocked() {
  if (finished_ || !DrainedLocked()) return nullptr;
  finished_ = true;
  if (cancelled_) {
    return [this] { Finish(grpc::Status::CANCELLED); };
  }
  for (const auto& [reason, count] : rejected_by_reason_) {
    v1::ReasonCount* rc = summary_.add_rejected_by_reason();
    rc->set_reason(reason);
    rc->set_count(count);
  }
  SM_LOG(Info, "ingest_stream_finished")
      .Kv("rpc", "StreamMetrics")
      .Kv("batches", summary_.batches_received())
      .Kv("events", summary_.events_received())
      .Kv("accepted", summary_.events_accepted())
      .Kv("rejected", summary_.events_rejected())
      .Kv("failed", events_failed_);
  if (events_refused_ > 0) {
    // Resending cannot help: FAILED_PRECONDITION, so the client does not retry.
    grpc::Status status = ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
        events_refused_, " of ", summary_.events_received(),
        " events were refused by Kafka for good (", first_failure_,
        "): resending fails the same way; the service's topics do not take what it writes, tell "
        "its operator. ",
        summary_.events_accepted(), " accepted and ", summary_.events_rejected(),
        " dead-lettered events are stored; batches with failures include sequence ",
        absl::StrJoin(failed_sequences_, ", "), failed_sequences_.size() >= 20 ? " and later" : "",
        ".")));
    return [this, status] { Finish(status); };
  }
  if (events_failed_ > 0) {
    // The client learns exactly what to resend; resending is safe (idempotency key).
    grpc::Status status = ToGrpcStatus(absl::UnavailableError(
        absl::StrCat(events_failed_, " of ", summary_.events_received(),
                     " events were not confirmed by Kafka (", first_failure_, "); ",
                     summary_.events_accepted(), " accepted and ", summary_.events_rejected(),
                     " dead-lettered events are stored. Resend the batches with sequence ",
                     absl::StrJoin(failed_sequences_, ", "),
                     failed_sequences_.size() >= 20 ? " (and later ones)" : "",
                     " under the same client_id: stored events are counted once.")));
    return [this, status] { Finish(status); };
  }
  bool own_buffer = false;
  (void)grpc::SerializationTraits<v1::IngestSummary>::Serialize(summary_, response_, &own_buffer);
  return [this] { Finish(grpc::Status::OK); };
}

void AckReactor::RecordOutcomeLocked(BatchOutcome o) {
  if (cancelled_ || write_failed_) return;  // nobody is listening any more
  grpc::ByteBuffer& bytes = acks_.emplace_back();
  bool own_buffer = false;
  // Serializing a message of our own making cannot fail but for a message over 2 GiB.
  (void)grpc::SerializationTraits<v1::BatchAck>::Serialize(MakeAck(std::move(o)), &bytes,
                                                           &own_buffer);
  unwritten_ack_bytes_ += bytes.Length();
}

std::function<void()> AckReactor::NextActionLocked() {
  if (finished_) return nullptr;
  if (!writing_ && !acks_.empty() && !cancelled_ && !write_failed_) {
    writing_ = true;
    return [this] { StartWrite(&acks_.front()); };  // acks_.front() stays put until OnWriteDone
  }
  if (writing_ || !DrainedLocked()) return nullptr;
  if (!acks_.empty() && !cancelled_ && !write_failed_) return nullptr;
  finished_ = true;
  if (cancelled_ || write_failed_) {
    return [this] { Finish(grpc::Status::CANCELLED); };
  }
  return [this] { Finish(grpc::Status::OK); };
}

void AckReactor::OnWriteDone(bool ok) {
  std::function<void()> action;
  bool resume = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    const bool held = ReadHeldLocked();
    unwritten_ack_bytes_ -= acks_.front().Length();
    acks_.pop_front();
    if (!ok) {
      // The client is gone; its batches are still delivered (they are in Kafka's hands), but
      // there is nobody to ack. It will resend what it has no ack for.
      write_failed_ = true;
      acks_.clear();
      unwritten_ack_bytes_ = 0;
    }
    action = NextActionLocked();
    // A Finish (finished_) is the last thing done with `this`: no resume after it.
    resume = held && !ReadHeldLocked() && !finished_;
  }
  if (action) action();
  if (resume) ResumeReading();
}

}  // namespace streammetrics::ingest
