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

class SummaryReactor final : public IngestReactor<grpc::ServerReadReactor<v1::MetricBatch>> {
 public:
  SummaryReactor(const IngestDeps& deps, StreamAdmission admission, v1::IngestSummary* summary)
      : IngestReactor(deps, std::move(admission)), summary_(summary) {}

 protected:
  void RecordRejectionsLocked(const std::vector<v1::Rejection>& rejections) override;
  void RecordOutcomeLocked(BatchOutcome outcome) override;
  std::function<void()> NextActionLocked() override;

 private:
  void ListRejection(v1::Rejection rejection);

  v1::IngestSummary* const summary_;  // owned by gRPC, valid until OnDone
  std::map<v1::DeadLetterReason, uint64_t> rejected_by_reason_;
  uint64_t events_failed_ = 0;
  std::vector<uint64_t> failed_sequences_;
  std::string first_failure_;
};

class AckReactor final
    : public IngestReactor<grpc::ServerBidiReactor<v1::MetricBatch, v1::BatchAck>> {
 public:
  AckReactor(const IngestDeps& deps, StreamAdmission admission)
      : IngestReactor(deps, std::move(admission)) {}

  void OnWriteDone(bool ok) override;

 protected:
  // An ack lists its batch's rejections when the batch is final.
  void RecordRejectionsLocked(const std::vector<v1::Rejection>&) override {}
  void RecordOutcomeLocked(BatchOutcome outcome) override;
  std::function<void()> NextActionLocked() override;

 private:
  // acks_.front() is being written while writing_; a deque keeps it in place while more queue up.
  std::deque<v1::BatchAck> acks_;
  bool writing_ = false;
  bool write_failed_ = false;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_STREAM_REACTORS_H_
