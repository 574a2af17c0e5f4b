// ConnectionPool's AUTH against a real Redis that requires a password: a Redis of the test's own
// (redis-server on a free port with --requirepass), so the shared stack's Redis stays open.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hiredis/hiredis.h"
#include "lib/common/clock.h"
#include "lib/redis/connection_pool.h"
#include "tests/support/child_process.h"
#include "tests/support/stack.h"

namespace streammetrics::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = streammetrics::testing::FreePort();
    pid_ = streammetrics::testing::Spawn({"/usr/bin/redis-server", "--port", std::to_string(port_),
                                          "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                          "--requirepass", "s3cret-pass"});
    ASSERT_GT(pid_, 0);
    ASSERT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(30), [&] {
      redisContext* c = redisConnect("127.0.0.1", port_);
      const bool up = c != nullptr && c->err == 0;
      if (c != nullptr) redisFree(c);
      return up;
    })) << "redis-server did not start";
  }
  void TearDown() override {
    if (pid_ > 0) streammetrics::testing::StopChild(pid_, SIGTERM);
  }

  // PING through a pool with `password`: the reply, or the Acquire error.
  absl::StatusOr<std::string> Ping(const std::string& password) {
    PoolConfig config;
    config.port = port_;
    config.password = password;
    ConnectionPool pool(config, RealClock::Get());
    absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    auto* reply = static_cast<redisReply*>(redisCommand(lease->get(), "PING"));
    if (reply == nullptr) return lease->IoFailed("PING");
    std::string text(reply->str, reply->len);
    freeReplyObject(reply);
    lease->Answered();
    return text;
  }

  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(RedisAuthTest, ThePasswordOpensTheConnection) {
  absl::StatusOr<std::string> pong = Ping("s3cret-pass");
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(*pong, "PONG");
}

TEST_F(RedisAuthTest, AWrongPasswordFailsLoudlyWithoutShowingIt) {
  absl::StatusOr<std::string> refused = Ping("not-the-pass");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("AUTH refused"));
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("not-the-pass")));
}

TEST_F(RedisAuthTest, WithoutAPasswordCommandsAreRefused) {
  absl::StatusOr<std::string> reply = Ping("");
  ASSERT_TRUE(reply.ok()) << reply.status();  // connected; Redis refuses the command itself
  EXPECT_THAT(*reply, HasSubstr("NOAUTH"));
}

}  // namespace
}  // namespace streammetrics::redis
