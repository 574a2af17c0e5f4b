#include "lib/security/server_security.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::security {
namespace {

using ::testing::HasSubstr;

TEST(ServerSecurityTest, ExposedAddressNeedsTlsAndTokens) {
  ServerSecurityConfig c;
  absl::Status s = CheckServerSecurity("0.0.0.0:50051", c);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr("set --tls_cert_file and --tls_key_file and "
                                     "--auth_tokens_file (or --tls_client_ca_file)"));
  c.tls_cert_file = "c.pem";
  c.tls_key_file = "k.pem";
  s = CheckServerSecurity("0.0.0.0:50051", c);
  EXPECT_THAT(s.message(), HasSubstr("set --auth_tokens_file ("));
  ServerSecurityConfig mutual = c;  // client certificates name every caller, as tokens would
  mutual.tls_client_ca_file = "ca.pem";
  EXPECT_TRUE(CheckServerSecurity("0.0.0.0:50051", mutual).ok());
  c.auth_tokens_file = "tokens";
  EXPECT_TRUE(CheckServerSecurity("0.0.0.0:50051", c).ok());
  EXPECT_TRUE(CheckServerSecurity("127.0.0.1:50051", ServerSecurityConfig{}).ok());
  ServerSecurityConfig insecure;
  insecure.allow_insecure = true;
  EXPECT_TRUE(CheckServerSecurity("0.0.0.0:50051", insecure).ok());
}

TEST(ServerSecurityTest, ExposedMetricsNeedTheirOwnConsent) {
  ServerSecurityConfig c;
  EXPECT_TRUE(CheckMetricsExposure("127.0.0.1:9464", c).ok());
  absl::Status s = CheckMetricsExposure("0.0.0.0:9464", c);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr("--allow_exposed_metrics=true"));
  c.allow_insecure = true;  // the gRPC port's consent is not the metrics' one
  EXPECT_FALSE(CheckMetricsExposure("0.0.0.0:9464", c).ok());
  // A list is refused even on loopback: its second item would be served too.
  absl::Status list = CheckMetricsExposure("127.0.0.1:9464,0.0.0.0:9465", c);
  EXPECT_TRUE(absl::IsInvalidArgument(list));
  EXPECT_THAT(list.message(), HasSubstr("give one host:port"));
  EXPECT_FALSE(CheckMetricsExposure("9464", c).ok());  // civetweb: every interface
  c.allow_exposed_metrics = true;
  EXPECT_TRUE(CheckMetricsExposure("0.0.0.0:9464", c).ok());
}

TEST(ServerSecurityTest, IncoherentSettingsAreInvalid) {
  ServerSecurityConfig only_cert;
  only_cert.tls_cert_file = "c.pem";
  EXPECT_TRUE(absl::IsInvalidArgument(CheckServerSecurity("127.0.0.1:1", only_cert)));
  ServerSecurityConfig ca_without_tls;
  ca_without_tls.tls_client_ca_file = "ca.pem";
  EXPECT_THAT(CheckServerSecurity("127.0.0.1:1", ca_without_tls).message(),
              HasSubstr("--tls_client_ca_file needs TLS"));
  ServerSecurityConfig fast;
  fast.tls_reload_interval = absl::Milliseconds(10);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckServerSecurity("127.0.0.1:1", fast)));
}

}  // namespace
}  // namespace streammetrics::security
