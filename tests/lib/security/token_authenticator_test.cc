#include "lib/security/token_authenticator.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TokenAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/sm-tokens-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/tokens";
    Write(path_, TokenFileLine("writer-token", "writer", 1) + "\n" +
                     TokenFileLine("reader-token", "reader", 2) + "\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void Write(const std::string& path, const std::string& text) {
    // Through a rename, as an operator's tooling would: readers see the old or the new file.
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << text;
    std::filesystem::rename(tmp, path);
  }

  std::unique_ptr<TokenAuthenticator> Make() {
    absl::StatusOr<std::unique_ptr<TokenAuthenticator>> auth =
        TokenAuthenticator::Create({path_, absl::Seconds(1)}, &clock_);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }

  FakeClock clock_;
  std::string dir_;
  std::string path_;
};

TEST_F(TokenAuthenticatorTest, KnownTokenWithTheScopeIsItsName) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->token_count(), 2u);
  absl::StatusOr<std::string> caller = auth->Authenticate("Bearer writer-token", Scope::kIngest);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(*caller, "writer");
  // The scheme is case-insensitive (RFC 6750 follows RFC 7235).
  EXPECT_EQ(*auth->Authenticate("bearer reader-token", Scope::kQuery), "reader");
}

TEST_F(TokenAuthenticatorTest, RefusalsHaveTheRightCodeAndReason) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  AuthRefusal why{};
  absl::StatusOr<std::string> r = auth->Authenticate(std::nullopt, Scope::kIngest, &why);
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_EQ(why, AuthRefusal::kMissingToken);
  EXPECT_THAT(r.status().message(), HasSubstr("authorization: Bearer <token>"));

  r = auth->Authenticate("Basic d3JpdGVyOnB3", Scope::kIngest, &why);
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_EQ(why, AuthRefusal::kMalformed);
  r = auth->Authenticate("Bearer " + std::string(600, 'x'), Scope::kIngest, &why);
  EXPECT_EQ(why, AuthRefusal::kMalformed);

  r = auth->Authenticate("Bearer forged-token", Scope::kIngest, &why);
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_EQ(why, AuthRefusal::kUnknownToken);
  EXPECT_THAT(r.status().message(), Not(HasSubstr("forged-token")));

  r = auth->Authenticate("Bearer reader-token", Scope::kIngest, &why);
  EXPECT_TRUE(absl::IsPermissionDenied(r.status()));
  EXPECT_EQ(why, AuthRefusal::kWrongScope);
  EXPECT_THAT(r.status().message(), HasSubstr("\"reader\" has the scopes query"));
  EXPECT_THAT(r.status().message(), HasSubstr("requires ingest"));
}

TEST_F(TokenAuthenticatorTest, AChangedFileTakesEffectAfterTheRecheckInterval) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  Write(path_, TokenFileLine("new-token", "writer", 1) + "\n");
  // Within the interval the old tokens still hold: the file is not stat'ed on every call.
  EXPECT_TRUE(auth->Authenticate("Bearer writer-token", Scope::kIngest).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(
      absl::IsUnauthenticated(auth->Authenticate("Bearer writer-token", Scope::kIngest).status()));
  EXPECT_EQ(*auth->Authenticate("Bearer new-token", Scope::kIngest), "writer");
  EXPECT_EQ(auth->reloads(), 1u);
  EXPECT_EQ(auth->failed_reloads(), 0u);
}

TEST_F(TokenAuthenticatorTest, ABrokenOrMissingFileKeepsThePreviousTokens) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  Write(path_, "this is not a tokens file\n");
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(auth->Authenticate("Bearer writer-token", Scope::kIngest).ok());
  EXPECT_EQ(auth->failed_reloads(), 1u);
  // Reported once, not at every check.
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(auth->Authenticate("Bearer writer-token", Scope::kIngest).ok());
  EXPECT_EQ(auth->failed_reloads(), 1u);

  std::filesystem::remove(path_);
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(auth->Authenticate("Bearer writer-token", Scope::kIngest).ok());
  EXPECT_EQ(auth->failed_reloads(), 2u);

  Write(path_, TokenFileLine("back-token", "back", 3) + "\n");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*auth->Authenticate("Bearer back-token", Scope::kQuery), "back");
  EXPECT_EQ(auth->token_count(), 1u);
}

TEST_F(TokenAuthenticatorTest, AFileEmptiedInPlaceKeepsThePreviousTokens) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  // What an editor or `>` leaves for a moment: the file truncated, comments at most.
  std::ofstream(path_, std::ios::trunc) << "# being rewritten\n";
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(auth->Authenticate("Bearer writer-token", Scope::kIngest).ok());
  EXPECT_EQ(auth->failed_reloads(), 1u);
  EXPECT_EQ(auth->token_count(), 2u);
  // A new file with tokens takes effect as usual.
  Write(path_, TokenFileLine("next-token", "next", 1) + "\n");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*auth->Authenticate("Bearer next-token", Scope::kIngest), "next");
  EXPECT_FALSE(auth->Authenticate("Bearer writer-token", Scope::kIngest).ok());
}

TEST_F(TokenAuthenticatorTest, ASymlinkSwapIsAChange) {
  const std::string a = dir_ + "/a", b = dir_ + "/b", link = dir_ + "/current";
  Write(a, TokenFileLine("token-a", "a", 1) + "\n");
  Write(b, TokenFileLine("token-b", "b", 1) + "\n");
  std::filesystem::create_symlink(a, link);
  absl::StatusOr<std::unique_ptr<TokenAuthenticator>> auth =
      TokenAuthenticator::Create({link, absl::Seconds(1)}, &clock_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->Authenticate("Bearer token-a", Scope::kIngest).ok());
  std::filesystem::create_symlink(b, link + ".new");
  std::filesystem::rename(link + ".new", link);
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE((*auth)->Authenticate("Bearer token-b", Scope::kIngest).ok());
  EXPECT_FALSE((*auth)->Authenticate("Bearer token-a", Scope::kIngest).ok());
}

TEST_F(TokenAuthenticatorTest, CreateFailsOnAMissingOrBrokenFile) {
  absl::StatusOr<std::unique_ptr<TokenAuthenticator>> missing =
      TokenAuthenticator::Create({dir_ + "/none", absl::Seconds(1)}, &clock_);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  Write(path_, "x y\n");
  absl::StatusOr<std::unique_ptr<TokenAuthenticator>> broken =
      TokenAuthenticator::Create({path_, absl::Seconds(1)}, &clock_);
  EXPECT_TRUE(absl::IsInvalidArgument(broken.status()));
  EXPECT_THAT(broken.status().message(), HasSubstr(path_ + " line 1"));
}

}  // namespace
}  // namespace streammetrics::security
