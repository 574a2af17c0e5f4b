#include "lib/common/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::InvalidArgumentError("boom") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool fail, int v) {
  if (fail) return absl::NotFoundError("no int");
  return std::make_unique<int>(v);
}

absl::Status Chain(bool fail_first, bool fail_second, int* reached) {
  RETURN_IF_ERROR(FailIf(fail_first));
  *reached = 1;
  RETURN_IF_ERROR(FailIf(fail_second));
  *reached = 2;
  return absl::OkStatus();
}

absl::StatusOr<int> Sum(bool fail_a, bool fail_b) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeInt(fail_a, 2));  // move-only values work
  ASSIGN_OR_RETURN(auto b, MakeInt(fail_b, 3));                  // twice in one scope
  return *a + *b;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtFirstError) {
  int reached = 0;
  EXPECT_EQ(Chain(true, false, &reached).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reached, 0);
  EXPECT_EQ(Chain(false, true, &reached).message(), "boom");
  EXPECT_EQ(reached, 1);
  EXPECT_TRUE(Chain(false, false, &reached).ok());
  EXPECT_EQ(reached, 2);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesOrAssigns) {
  EXPECT_EQ(*Sum(false, false), 5);
  EXPECT_EQ(Sum(true, false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Sum(false, true).status().message(), "no int");
}

}  // namespace
