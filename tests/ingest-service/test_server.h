// Serves an IngestService implementation on a free loopback port, for tests that talk to it
// through a real gRPC channel.
#ifndef STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_SERVER_H_
#define STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::ingest::testing {

struct TestServer {
  std::unique_ptr<grpc::Server> server;  // null when the port could not be bound
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::IngestService::Stub> stub;
};

inline TestServer ServeInProcess(grpc::Service* service) {
  TestServer t;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  t.server = builder.BuildAndStart();
  if (port == 0) t.server.reset();
  t.channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  t.stub = v1::IngestService::NewStub(t.channel);
  return t;
}

// Bytes as one gRPC message: what a client that does not use protobuf (or sends garbage) sends.
inline grpc::ByteBuffer Message(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Calls on `channel` that send and receive raw messages, as the generated stubs do internally.
inline std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
RawIngestStream(grpc::Channel* channel, grpc::ClientContext* context) {
  const grpc::internal::RpcMethod method("/streammetrics.v1.IngestService/IngestStream",
                                         grpc::internal::RpcMethod::BIDI_STREAMING);
  return std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel, method, context));
}
inline std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> RawStreamMetrics(
    grpc::Channel* channel, grpc::ClientContext* context, grpc::ByteBuffer* response) {
  const grpc::internal::RpcMethod method("/streammetrics.v1.IngestService/StreamMetrics",
                                         grpc::internal::RpcMethod::CLIENT_STREAMING);
  return std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>>(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel, method, context,
                                                                    response));
}

// Reads raw acks until the server ends `stream`, by sequence (a later ack of a sequence replaces
// an earlier one). An ack that does not parse is stored under sequence UINT64_MAX.
inline std::map<uint64_t, v1::BatchAck> ReadAcksBySequence(
    grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>* stream) {
  std::map<uint64_t, v1::BatchAck> acks;
  grpc::ByteBuffer bytes;
  while (stream->Read(&bytes)) {
    v1::BatchAck ack;
    if (!grpc::SerializationTraits<v1::BatchAck>::Deserialize(&bytes, &ack).ok()) {
      ack.set_sequence(UINT64_MAX);
    }
    acks[ack.sequence()] = ack;
  }
  return acks;
}

}  // namespace streammetrics::ingest::testing

#endif  // STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_SERVER_H_
