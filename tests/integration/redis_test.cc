// Proves the local Redis answers, stores and reads values, and runs with the append-only file on
// (so cached windows survive a restart of Redis).
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/stack.h"

namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    timeval timeout{5, 0};
    ctx_.reset(redisConnectWithTimeout(streammetrics::testing::RedisHost().c_str(),
                                       streammetrics::testing::RedisPort(), timeout));
    ASSERT_NE(ctx_, nullptr);
    ASSERT_EQ(ctx_->err, 0) << ctx_->errstr;
  }

  Reply Command(const char* format, const std::string& a = "", const std::string& b = "") {
    return Reply(static_cast<redisReply*>(redisCommand(ctx_.get(), format, a.c_str(), b.c_str())));
  }

  std::unique_ptr<redisContext, ContextDeleter> ctx_;
};

TEST_F(RedisTest, AnswersPing) {
  Reply r = Command("PING");
  ASSERT_NE(r, nullptr) << ctx_->errstr;
  ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(r->str, r->len), "PONG");
}

TEST_F(RedisTest, StoresAndReadsBinaryValues) {
  const std::string key = absl::StrCat("it:redis:", absl::ToUnixNanos(absl::Now()));
  const std::string value("bin\0ary", 7);
  Reply set(static_cast<redisReply*>(
      redisCommand(ctx_.get(), "SET %s %b EX 60", key.c_str(), value.data(), value.size())));
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(std::string(set->str, set->len), "OK");
  Reply get = Command("GET %s", key);
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(get->str, get->len), value);
  Command("DEL %s", key);
}

TEST_F(RedisTest, AppendOnlyFileIsOn) {
  Reply r = Command("CONFIG GET %s", "appendonly");
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements, 2u);
  EXPECT_EQ(std::string(r->element[1]->str), "yes");
}

TEST_F(RedisTest, IsVersionSevenOrNewer) {
  Reply r = Command("INFO %s", "server");
  ASSERT_EQ(r->type, REDIS_REPLY_STRING);
  const std::string info(r->str, r->len);
  const size_t at = info.find("redis_version:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(info.substr(at + 14)), 7) << info.substr(at, 30);
}

}  // namespace
