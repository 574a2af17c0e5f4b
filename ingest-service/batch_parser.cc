// BatchParser: see batch_parser.h.
#include "ingest-service/batch_parser.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "lib/common/protobuf_log.h"

namespace streammetrics::ingest {

absl::Status ParseMessage(grpc::ByteBuffer* bytes, google::protobuf::Message* message,
                          absl::string_view what, absl::string_view advice) {
  ProtobufLogCapture capture;  // protobuf names a field with invalid UTF-8 only in its log
  bool parsed = false;
  {
    grpc::ProtoBufferReader reader(bytes);
    parsed = reader.status().ok() && message->ParseFromZeroCopyStream(&reader);
  }
  bytes->Clear();
  if (parsed) return absl::OkStatus();
  std::string why(absl::StripAsciiWhitespace(capture.message()));
  if (why.empty()) {
    why = absl::StrCat("the bytes are not a ", message->GetDescriptor()->name(),
                       " (truncated, a wrong wire type, or not protobuf)");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the ", what, " does not parse: ", why, "; ", advice));
}

absl::Status ParseBatch(grpc::ByteBuffer* bytes, v1::MetricBatch* batch) {
  return ParseMessage(bytes, batch, "batch message", "fix the sender and resend");
}

}  // namespace streammetrics::ingest
