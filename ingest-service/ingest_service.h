// IngestServiceImpl: the gRPC callback service. It only creates a reactor per RPC; the work is in
// the reactors (stream_reactors.h), which never block.
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_SERVICE_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_SERVICE_H_

#include "ingest-service/ingest_reactor.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::ingest {

class IngestServiceImpl final : public v1::IngestService::CallbackService {
 public:
  // `deps` and everything it points to must outlive the server.
  explicit IngestServiceImpl(IngestDeps deps) : deps_(deps) {}

  grpc::ServerReadReactor<v1::MetricBatch>* StreamMetrics(grpc::CallbackServerContext* context,
                                                          v1::IngestSummary* summary) override;
  grpc::ServerBidiReactor<v1::MetricBatch, v1::BatchAck>* IngestStream(
      grpc::CallbackServerContext* context) override;

 private:
  const IngestDeps deps_;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_SERVICE_H_
