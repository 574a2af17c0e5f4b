// Backoff: growth, cap, jitter bounds and reset; and ValidateClientId's rules (the server's).
#include "lib/client/backoff.h"

#include <string>

#include "gtest/gtest.h"
#include "lib/client/client_id.h"

namespace streammetrics::client {
namespace {

TEST(BackoffTest, DoublesFromInitialUpToMax) {
  Backoff b(BackoffOptions{}, [] { return 0.5; });  // 0.5: no jitter
  const int expect_ms[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
  for (int ms : expect_ms) EXPECT_EQ(b.Next(), absl::Milliseconds(ms));
  b.Reset();
  EXPECT_EQ(b.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, JitterStaysWithinItsBoundsAndUnderMax) {
  Backoff low(BackoffOptions{}, [] { return 0.0; });
  EXPECT_EQ(low.Next(), absl::Milliseconds(80));
  Backoff high(BackoffOptions{}, [] { return 0.999999; });
  const absl::Duration first = high.Next();
  EXPECT_GT(first, absl::Milliseconds(119));
  EXPECT_LE(first, absl::Milliseconds(120));
  for (int i = 0; i < 10; ++i) EXPECT_LE(high.Next(), absl::Seconds(5));
  Backoff real(BackoffOptions{});
  for (int i = 0; i < 1000; ++i) {
    const absl::Duration d = real.Next();
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LE(d, absl::Seconds(5));
    if (i % 10 == 0) real.Reset();
  }
}

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
