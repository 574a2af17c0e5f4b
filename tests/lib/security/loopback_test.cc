// IsLoopbackAddress / IsLoopbackTarget (lib/security/loopback.h): what stays on this host.
#include "lib/security/loopback.h"

#include "gtest/gtest.h"

namespace streammetrics::security {
namespace {

TEST(LoopbackTest, ListeningAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:50051"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50051"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/run/streammetrics.sock"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("10.1.2.3:50051"));
  EXPECT_FALSE(IsLoopbackAddress("ingest.example.com:50051"));
  EXPECT_FALSE(IsLoopbackAddress(":50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::ffff:10.0.0.1]:1"));
}

TEST(LoopbackTest, ChannelTargets) {
  EXPECT_TRUE(IsLoopbackTarget("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackTarget("localhost:50051"));
  EXPECT_TRUE(IsLoopbackTarget("dns:///localhost:50051"));
  EXPECT_TRUE(IsLoopbackTarget("dns://8.8.8.8/127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackTarget("dns:127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackTarget("ipv4:127.0.0.1:1,127.0.0.2:2"));
  EXPECT_TRUE(IsLoopbackTarget("ipv6:[::1]:50051"));
  EXPECT_TRUE(IsLoopbackTarget("unix:/run/s.sock"));
  EXPECT_FALSE(IsLoopbackTarget("ingest.example.com:50051"));
  EXPECT_FALSE(IsLoopbackTarget("dns:///ingest.example.com:50051"));
  EXPECT_FALSE(IsLoopbackTarget("dns://127.0.0.1/ingest.example.com:50051"));
  EXPECT_FALSE(IsLoopbackTarget("ipv4:127.0.0.1:1,10.0.0.1:2"));
  EXPECT_FALSE(IsLoopbackTarget("ipv4:"));
  EXPECT_FALSE(IsLoopbackTarget("xds:///ingest"));
  EXPECT_FALSE(IsLoopbackTarget("10.0.0.1:50051"));
}

}  // namespace
}  // namespace streammetrics::security
