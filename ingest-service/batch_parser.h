// BatchParser: turns the bytes of one MetricBatch message (or, with ParseMessage, of any request),
// as gRPC received them, into the message. The ingest service reads raw bytes and parses them here
// rather than letting gRPC do it, because gRPC reports a message that does not parse to the reactor
// exactly as it reports a client's half-close: the batch, and every batch after it, would be
// dropped in silence.
#ifndef STREAMMETRICS_INGEST_SERVICE_BATCH_PARSER_H_
#define STREAMMETRICS_INGEST_SERVICE_BATCH_PARSER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::ingest {

// Parses `bytes` (emptied) into `batch`. Fails with InvalidArgument saying what is wrong: the
// field holding invalid UTF-8, or that the bytes are truncated or not a MetricBatch. On failure
// `batch` holds what was parsed before the problem (its sequence, usually: field 2 comes before
// the events), which a rejection can name.
absl::Status ParseBatch(grpc::ByteBuffer* bytes, v1::MetricBatch* batch);

// The same for any message (the OTLP door's requests): parses `bytes` (emptied) into `message`.
// Fails with InvalidArgument "the <what> does not parse: <protobuf's reason>; <advice>".
absl::Status ParseMessage(grpc::ByteBuffer* bytes, google::protobuf::Message* message,
                          absl::string_view what, absl::string_view advice);

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_BATCH_PARSER_H_
