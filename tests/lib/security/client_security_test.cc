// MakeChannel (lib/security/client_security.h): what a client refuses to build before any byte
// is sent. No server: channels connect lazily.
#include "lib/security/client_security.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::security {
namespace {

using ::testing::HasSubstr;

TEST(ClientSecurityTest, ATokenDoesNotCrossTheNetworkInPlaintext) {
  ClientSecurityConfig c;
  c.token = "sm_secret";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> remote = MakeChannel("ingest.example:50051", c);
  ASSERT_FALSE(remote.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(remote.status()));
  EXPECT_THAT(remote.status().message(), HasSubstr("set --tls_ca_file"));
  EXPECT_THAT(remote.status().message(), ::testing::Not(HasSubstr("sm_secret")));
  EXPECT_FALSE(MakeChannel("dns:///10.0.0.7:50051", c).ok());
  // Loopback stays plaintext (the local stack), and the refusal can be overridden on purpose.
  EXPECT_TRUE(MakeChannel("127.0.0.1:50051", c).ok());
  EXPECT_TRUE(MakeChannel("localhost:50051", c).ok());
  c.allow_insecure = true;
  EXPECT_TRUE(MakeChannel("ingest.example:50051", c).ok());
  // Without a token there is nothing to leak.
  EXPECT_TRUE(MakeChannel("ingest.example:50051", ClientSecurityConfig{}).ok());
}

TEST(ClientSecurityTest, IncoherentOrUnreadableSettingsAreInvalid) {
  ClientSecurityConfig half;
  half.tls_client_cert_file = "client.pem";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", half).status().message(), HasSubstr("go together"));
  half.tls_client_key_file = "client.key";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", half).status().message(), HasSubstr("needs TLS"));
  ClientSecurityConfig missing;
  missing.tls_ca_file = "/nonexistent/ca.pem";
  absl::Status s = MakeChannel("127.0.0.1:1", missing).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--tls_ca_file: cannot read /nonexistent/ca.pem"));
}

}  // namespace
}  // namespace streammetrics::security
