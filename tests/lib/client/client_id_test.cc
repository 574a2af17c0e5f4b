// ValidateClientId's rules: the client refuses what the ingest service would refuse.
#include "lib/client/client_id.h"

#include <string>

#include "gtest/gtest.h"

namespace streammetrics::client {
namespace {

TEST(ClientIdTest, AcceptsWhatTheServerAccepts) {
  EXPECT_TRUE(ValidateClientId("checkout-7f9c-pod-3").ok());
  EXPECT_TRUE(ValidateClientId(std::string(128, 'a')).ok());
  EXPECT_TRUE(ValidateClientId("caf\xC3\xA9 1").ok());  // UTF-8 and inner spaces are fine
}

TEST(ClientIdTest, RefusesWhatTheServerRefuses) {
  for (const std::string& bad :
       {std::string(), std::string("   "), std::string(129, 'a'), std::string("a\nb"),
        std::string("tab\there"), std::string("del\x7F"), std::string("nul\0x", 5)}) {
    absl::Status s = ValidateClientId(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "'" << bad << "'";
    EXPECT_NE(s.message().find("client_id"), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace streammetrics::client
