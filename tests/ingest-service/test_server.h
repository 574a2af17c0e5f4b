// Serves an IngestService implementation on a free loopback port, for tests that talk to it
// through a real gRPC channel.
#ifndef STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_SERVER_H_
#define STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_SERVER_H_

#include <memory>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::ingest::testing {

struct TestServer {
  std::unique_ptr<grpc::Server> server;  // null when the port could not be bound
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
  t.stub = v1::IngestService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  return t;
}

}  // namespace streammetrics::ingest::testing

#endif  // STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_SERVER_H_
