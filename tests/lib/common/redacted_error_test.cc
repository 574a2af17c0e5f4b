// RedactedError (lib/common/redacted_error.h): the caller gets a code, an id and a sentence; the
// detail is in the log line carrying the same id, and nowhere else.
#include "lib/common/redacted_error.h"

#include <regex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The correlation id a message names.
std::string IdIn(const std::string& message) {
  std::smatch m;
  return std::regex_search(message, m, std::regex("correlation id ([0-9a-f]{16})")) ? m.str(1) : "";
}

TEST(RedactedErrorTest, TheCallerGetsAnIdTheLogGetsTheDetailUnderIt) {
  ::testing::internal::CaptureStderr();
  const absl::Status answer = RedactedError(
      absl::InvalidArgumentError("invalid byte sequence for encoding \"UTF8\": 0x00 (host=db-7)"),
      "the aggregate store");
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(answer.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(answer.message(), HasSubstr("the aggregate store failed"));
  EXPECT_THAT(std::string(answer.message()), Not(HasSubstr("UTF8")));
  EXPECT_THAT(std::string(answer.message()), Not(HasSubstr("db-7")));
  const std::string id = IdIn(std::string(answer.message()));
  ASSERT_FALSE(id.empty()) << answer;
  EXPECT_THAT(log, HasSubstr("event=internal_error"));
  EXPECT_THAT(log, HasSubstr("correlation_id=" + id));
  EXPECT_THAT(log, HasSubstr("db-7"));
}

TEST(RedactedErrorTest, RetryableCodesKeepTheirMeaning) {
  ::testing::internal::CaptureStderr();
  const absl::Status down = RedactedError(absl::UnavailableError("connection refused"), "x");
  const absl::Status slow = RedactedError(
      absl::DeadlineExceededError("canceling statement due to statement timeout"), "x");
  const absl::Status lost = RedactedError(absl::DataLossError("bad row"), "x");
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.message(), HasSubstr("retry shortly"));
  EXPECT_EQ(slow.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(slow.message(), HasSubstr("narrow the range"));
  EXPECT_EQ(lost.code(), absl::StatusCode::kInternal);
  EXPECT_NE(IdIn(std::string(down.message())), IdIn(std::string(slow.message())));
}

}  // namespace
}  // namespace streammetrics
