// GrpcServer in process over loopback: TLS, mutual TLS, certificates re-read from disk, the
// refusal to expose a port unprotected, reflection on and off. The health service is the probe.
#include "lib/common/grpc_server.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/security/client_security.h"
#include "streammetrics/v1/ingest.grpc.pb.h"
#include "tests/support/stack.h"
#include "tests/support/test_pki.h"

namespace streammetrics {
namespace {

using streammetrics::testing::CertFiles;
using streammetrics::testing::TestPki;
using ::testing::HasSubstr;

// One health check on a new connection (its own subchannel, so every call is a new handshake).
grpc::Status Check(int port, const security::ClientSecurityConfig& client) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      security::MakeChannel(absl::StrCat("127.0.0.1:", port), client, args);
  if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response);
}

class GrpcServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestPki>> pki = TestPki::Create("ca-one");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *std::move(pki);
    absl::StatusOr<CertFiles> server = pki_->Issue("server", "server");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    client_.tls_ca_file = pki_->ca_file();
  }

  absl::StatusOr<std::unique_ptr<GrpcServer>> Start(security::ServerSecurityConfig security) {
    GrpcServerOptions options;
    options.security = std::move(security);
    return GrpcServer::Start(options, {});
  }

  security::ServerSecurityConfig Tls() const {
    security::ServerSecurityConfig s;
    s.tls_cert_file = server_.cert;
    s.tls_key_file = server_.key;
    return s;
  }

  std::unique_ptr<TestPki> pki_;
  CertFiles server_;
  security::ClientSecurityConfig client_;
};

TEST_F(GrpcServerTlsTest, ServesTlsAndRefusesPlaintext) {
  auto server = Start(Tls());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(Check((*server)->port(), client_).ok());
  grpc::Status plain = Check((*server)->port(), security::ClientSecurityConfig{});
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
}

TEST_F(GrpcServerTlsTest, AClientThatTrustsAnotherCaIsRefused) {
  auto server = Start(Tls());
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::unique_ptr<TestPki>> other = TestPki::Create("ca-other");
  ASSERT_TRUE(other.ok());
  security::ClientSecurityConfig wrong;
  wrong.tls_ca_file = (*other)->ca_file();
  EXPECT_EQ(Check((*server)->port(), wrong).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcServerTlsTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  security::ServerSecurityConfig security = Tls();
  security.tls_client_ca_file = pki_->ca_file();
  auto server = Start(security);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Check((*server)->port(), client_).error_code(), grpc::StatusCode::UNAVAILABLE);

  absl::StatusOr<CertFiles> mine = pki_->Issue("checkout-writer", "client");
  ASSERT_TRUE(mine.ok());
  security::ClientSecurityConfig with_cert = client_;
  with_cert.tls_client_cert_file = mine->cert;
  with_cert.tls_client_key_file = mine->key;
  EXPECT_TRUE(Check((*server)->port(), with_cert).ok());

  absl::StatusOr<std::unique_ptr<TestPki>> other = TestPki::Create("ca-other");
  ASSERT_TRUE(other.ok());
  absl::StatusOr<CertFiles> foreign = (*other)->Issue("intruder", "client");
  ASSERT_TRUE(foreign.ok());
  security::ClientSecurityConfig forged = client_;
  forged.tls_client_cert_file = foreign->cert;
  forged.tls_client_key_file = foreign->key;
  EXPECT_EQ(Check((*server)->port(), forged).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcServerTlsTest, ACertificateReplacedOnDiskIsServedWithoutARestart) {
  // The served files are copies the test replaces, as a renewal would.
  const std::string dir = pki_->dir() + "/live";
  std::filesystem::create_directory(dir);
  security::ServerSecurityConfig security;
  security.tls_cert_file = dir + "/tls.crt";
  security.tls_key_file = dir + "/tls.key";
  security.tls_reload_interval = absl::Seconds(1);
  std::filesystem::copy_file(server_.cert, security.tls_cert_file);
  std::filesystem::copy_file(server_.key, security.tls_key_file);
  auto server = Start(security);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(Check((*server)->port(), client_).ok());

  // A certificate from a new CA: clients that trust only the new CA get in once it is served.
  absl::StatusOr<std::unique_ptr<TestPki>> renewed_ca = TestPki::Create("ca-two");
  ASSERT_TRUE(renewed_ca.ok());
  absl::StatusOr<CertFiles> renewed = (*renewed_ca)->Issue("server", "server");
  ASSERT_TRUE(renewed.ok());
  security::ClientSecurityConfig new_client;
  new_client.tls_ca_file = (*renewed_ca)->ca_file();
  EXPECT_FALSE(Check((*server)->port(), new_client).ok());
  std::filesystem::copy_file(renewed->key, dir + "/tls.key.new");
  std::filesystem::copy_file(renewed->cert, dir + "/tls.crt.new");
  std::filesystem::rename(dir + "/tls.key.new", security.tls_key_file);
  std::filesystem::rename(dir + "/tls.crt.new", security.tls_cert_file);
  EXPECT_TRUE(streammetrics::testing::PollUntil(
      absl::Seconds(20), [&] { return Check((*server)->port(), new_client).ok(); }));
  EXPECT_FALSE(Check((*server)->port(), client_).ok());
}

TEST_F(GrpcServerTlsTest, BadFilesFailTheStartWithTheFileNamed) {
  security::ServerSecurityConfig swapped = Tls();
  absl::StatusOr<CertFiles> other = pki_->Issue("other", "other");
  ASSERT_TRUE(other.ok());
  swapped.tls_key_file = other->key;
  auto mismatch = Start(swapped);
  EXPECT_TRUE(absl::IsInvalidArgument(mismatch.status()));
  EXPECT_THAT(mismatch.status().message(), HasSubstr("does not belong to the certificate"));

  security::ServerSecurityConfig missing = Tls();
  missing.tls_cert_file = pki_->dir() + "/nope.crt";
  auto no_file = Start(missing);
  EXPECT_TRUE(absl::IsInvalidArgument(no_file.status()));
  EXPECT_THAT(no_file.status().message(), HasSubstr("--tls_cert_file: cannot read"));

  absl::StatusOr<CertFiles> expired = pki_->Issue("expired", "expired", absl::Seconds(-30));
  ASSERT_TRUE(expired.ok());
  security::ServerSecurityConfig old = Tls();
  old.tls_cert_file = expired->cert;
  old.tls_key_file = expired->key;
  auto stale = Start(old);
  EXPECT_THAT(stale.status().message(), HasSubstr("has expired"));
}

TEST(GrpcServerExposureTest, AllInterfacesNeedTlsAndTokensOrAllowInsecure) {
  GrpcServerOptions options;
  options.address = "0.0.0.0:0";
  auto refused = GrpcServer::Start(options, {});
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_THAT(refused.status().message(), HasSubstr("--tls_cert_file and --tls_key_file"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--auth_tokens_file"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--allow_insecure=true"));
  options.security.allow_insecure = true;
  auto allowed = GrpcServer::Start(options, {});
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

TEST(GrpcServerLimitsTest, LimitsOutOfRangeFailTheStartNamingTheFlag) {
  EXPECT_TRUE(CheckConnectionLimits(ConnectionLimits{}).ok());
  ConnectionLimits unbounded;
  unbounded.max_concurrent_streams = 0;
  unbounded.max_ping_strikes = 0;  // gRPC would read it as "no limit"
  unbounded.memory_quota_bytes = 1024;
  absl::Status s = CheckConnectionLimits(unbounded);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--grpc_max_concurrent_streams must be 1 to 1000000"));
  EXPECT_THAT(s.message(), HasSubstr("--grpc_max_ping_strikes must be 1 to 1000"));
  EXPECT_THAT(s.message(), HasSubstr("--grpc_memory_quota must be at least 16MiB"));
  ConnectionLimits durations;
  durations.min_ping_interval = -absl::Seconds(1);
  durations.max_connection_age = absl::ZeroDuration();
  durations.handshake_timeout = absl::Hours(1);
  s = CheckConnectionLimits(durations);
  EXPECT_THAT(s.message(), HasSubstr("--grpc_min_ping_interval"));
  EXPECT_THAT(s.message(), HasSubstr("--grpc_max_connection_age must be 1s"));
  EXPECT_THAT(s.message(), HasSubstr("--grpc_handshake_timeout must be 100ms to 10m"));
  ConnectionLimits forever;
  forever.max_connection_age = absl::InfiniteDuration();
  forever.max_connection_idle = absl::InfiniteDuration();
  EXPECT_TRUE(CheckConnectionLimits(forever).ok());
  GrpcServerOptions options;
  options.limits = unbounded;
  EXPECT_TRUE(absl::IsInvalidArgument(GrpcServer::Start(options, {}).status()));
}

TEST(GrpcServerReflectionTest, ReflectionCanBeTurnedOff) {
  auto list_services = [](int port) {
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    // The reflection method, called generically: UNIMPLEMENTED when the service is absent.
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(&context,
                                 "/grpc.reflection.v1alpha.ServerReflection/"
                                 "ServerReflectionInfo",
                                 &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(3));
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(3)) {
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status.error_code();
  };
  // A callback service, as the services are: a server must have one of some kind to start.
  v1::IngestService::CallbackService unimplemented;
  GrpcServerOptions on;
  auto with = GrpcServer::Start(on, {&unimplemented});
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(list_services((*with)->port()), grpc::StatusCode::OK);
  GrpcServerOptions off;
  off.limits.reflection = false;
  auto without = GrpcServer::Start(off, {&unimplemented});
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(list_services((*without)->port()), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace streammetrics
