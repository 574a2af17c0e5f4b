// The reactors of the two IngestService RPCs, on IngestReactor (see ingest_reactor.h):
//   SummaryReactor — StreamMetrics: one IngestSummary once the client half-closed and every batch
//                    is durable; UNAVAILABLE (with what was and was not stored) when Kafka did not
//                    confirm some events.
//   AckReactor     — IngestStream: one BatchAck per batch as soon as that batch is final.
#ifndef STREAMMETRICS_INGEST_SERVICE_STREAM_REACTORS_H_
#define STREAMMETRICS_INGEST_SERVICE_STREAM_REACTORS_H_

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ingest-service/ingest_reactor.h"

namespace streammetrics::ingest {

// Both read raw bytes and write raw bytes (ParseBatch says why: a malformed batch is answered).
class SummaryReactor final : public IngestReactor<grpc::ServerReadReactor<grpc::ByteBuffer>> {
 public:
  SummaryReactor(const IngestDeps& deps, StreamAdmission admission, grpc::ByteBuffer* response)
      : IngestReactor(deps, std::move(admission)), response_(response) {}

 protected:
  void RecordRejectionsLocked(const std::vector<v1::Rejection>& rejections) override;
  void RecordOutcomeLocked(BatchOutcome outcome) override;
  std::function<void()> NextActionLocked() override;

 private:
  void ListRejection(v1::Rejection rejection);

  grpc::ByteBuffer* const response_;  // owned by gRPC, valid until OnDone; the summary's bytes
  v1::IngestSummary summary_;
  std::map<v1::DeadLetterReason, uint64_t> rejected_by_reason_;
  uint64_t events_failed_ = 0;
  uint64_t events_refused_ = 0;  // of events_failed_: refused by Kafka for good
  std::vector<uint64_t> failed_sequences_;
  std::string first_failure_;
};

class AckReactor final
    : public IngestReactor<grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>> {
 public:
  AckReactor(const IngestDeps& deps, StreamAdmission admission)
      : IngestReactor(deps, std::move(admission)) {}

  void OnWriteDone(bool ok) override;

 protected:
  // An ack lists its batch's rejections when the batch is final.
  void RecordRejectionsLocked(const std::vector<v1::Rejection>&) override {}
  void RecordOutcomeLocked(BatchOutcome outcome) override;
  std::function<void()> NextActionLocked() override;
  // Unwritten acks over their byte limit hold reading: a client that never reads its acks
  // cannot make them pile up on the server.
  bool ReadHeldLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return unwritten_ack_bytes_ >= deps_.stream_unread_ack_bytes_limit;
  }

 private:
  // Serialized acks; acks_.front() is being written while writing_ (a deque keeps it in place
  // while more queue up).
  std::deque<grpc::ByteBuffer> acks_ ABSL_GUARDED_BY(mu_);
  size_t unwritten_ack_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of acks_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_STREAM_REACTORS_H_
