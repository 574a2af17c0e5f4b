// BatchParser: turns the bytes of one MetricBatch message, as gRPC received them, into the
// message. The ingest service reads raw bytes and parses them here rather than letting gRPC do it,
// because gRPC reports a message that does not parse to the reactor exactly as it reports a
// client's half-close: the batch, and every batch after it, would be dropped in silence.
#ifndef STREAMMETRICS_INGEST_SERVICE_BATCH_PARSER_H_
#define STREAMMETRICS_INGEST_SERVICE_BATCH_PARSER_H_

#include "absl/status/status.h"
#include "grpcpp/support/byte_buffer.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::ingest {

// Parses `bytes` (emptied) into `batch`. Fails with InvalidArgument saying what is wrong: the
// field holding invalid UTF-8, or that the bytes are truncated or not a MetricBatch. On failure
// `batch` holds what was parsed before the problem (its sequence, usually: field 2 comes before
// the events), which a rejection can name.
absl::Status ParseBatch(grpc::ByteBuffer* bytes, v1::MetricBatch* batch);

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_BATCH_PARSER_H_
