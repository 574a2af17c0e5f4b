// BatchParser: see batch_parser.h.
#include "ingest-service/batch_parser.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "lib/common/protobuf_log.h"

namespace streammetrics::ingest {

absl::Status ParseBatch(grpc::ByteBuffer* bytes, v1::MetricBatch* batch) {
  ProtobufLogCapture capture;  // protobuf names a field with invalid UTF-8 only in its log
  bool parsed = false;
  {
    grpc::ProtoBufferReader reader(bytes);
    parsed = reader.status().ok() && batch->ParseFromZeroCopyStream(&reader);
  }
  bytes->Clear();
  if (parsed) return absl::OkStatus();
  std::string why(absl::StripAsciiWhitespace(capture.message()));
  if (why.empty()) {
    why = "the bytes are not a MetricBatch (truncated, a wrong wire type, or not protobuf)";
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the batch message does not parse: ", why, "; fix the sender and resend"));
}

}  // namespace streammetrics::ingest
