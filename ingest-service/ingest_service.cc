#include "ingest-service/ingest_service.h"

#include <memory>

#include "ingest-service/stream_reactors.h"

namespace streammetrics::ingest {

grpc::ServerReadReactor<v1::MetricBatch>* IngestServiceImpl::StreamMetrics(
    grpc::CallbackServerContext*, v1::IngestSummary* summary) {
  auto reactor = std::make_shared<SummaryReactor>(deps_, summary);
  reactor->Start(reactor);
  return reactor.get();
}

grpc::ServerBidiReactor<v1::MetricBatch, v1::BatchAck>* IngestServiceImpl::IngestStream(
    grpc::CallbackServerContext*) {
  auto reactor = std::make_shared<AckReactor>(deps_);
  reactor->Start(reactor);
  return reactor.get();
}

}  // namespace streammetrics::ingest
