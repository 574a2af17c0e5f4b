#include "lib/security/token_file.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHashA = Sha256Hex("token-a");
const std::string kHashB = Sha256Hex("token-b");

TEST(TokenFileTest, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenFileTest, ParsesLinesCommentsAndBlankLines) {
  const std::string text = "# tokens of the checkout team\n\n" + kHashA +
                           " checkout-writer ingest   # minted today\n"
                           "\t" +
                           kHashB + "\tops\tquery,ingest\r\n";
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(text);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "checkout-writer");
  EXPECT_EQ((*entries)[0].digest, Sha256("token-a"));
  EXPECT_TRUE(Allows((*entries)[0].scopes, Scope::kIngest));
  EXPECT_FALSE(Allows((*entries)[0].scopes, Scope::kQuery));
  EXPECT_EQ((*entries)[1].name, "ops");
  EXPECT_EQ(ScopesText((*entries)[1].scopes), "ingest,query");
}

TEST(TokenFileTest, UppercaseHexIsTheSameHash) {
  std::string upper = kHashA;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(upper + " a ingest\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ((*entries)[0].digest, Sha256("token-a"));
}

TEST(TokenFileTest, EmptyFileHasNoTokens) {
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile("# nobody yet\n");
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
}

TEST(TokenFileTest, SameNameOnTwoLinesIsARotation) {
  absl::StatusOr<std::vector<TokenEntry>> entries =
      ParseTokenFile(kHashA + " writer ingest\n" + kHashB + " writer ingest\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(entries->size(), 2u);
}

struct BadLine {
  std::string text;
  std::string message;
};

class TokenFileErrorTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(TokenFileErrorTest, NamesTheLineAndTheProblemWithoutQuotingTheHash) {
  const std::string text = "# header\n" + GetParam().text + "\n";
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(text);
  ASSERT_FALSE(entries.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(entries.status()));
  EXPECT_THAT(entries.status().message(), HasSubstr("line 2"));
  EXPECT_THAT(entries.status().message(), HasSubstr(GetParam().message));
  EXPECT_THAT(entries.status().message(), Not(HasSubstr(kHashA)));
}

INSTANTIATE_TEST_SUITE_P(
    Lines, TokenFileErrorTest,
    ::testing::Values(BadLine{kHashA + " writer", "found 2 fields"},
                      BadLine{kHashA + " writer ingest extra", "found 4 fields"},
                      BadLine{"smt_plaintexttoken writer ingest", "64 hex digits"},
                      BadLine{kHashA.substr(1) + "g writer ingest", "64 hex digits"},
                      BadLine{kHashA + " bad/name ingest", "the name"},
                      BadLine{kHashA + " " + std::string(65, 'n') + " ingest", "the name"},
                      BadLine{kHashA + " writer admin", "unknown scope"},
                      BadLine{kHashA + " writer ingest,", "unknown scope"}));

TEST(TokenFileTest, AHashGivenTwiceIsAnError) {
  absl::StatusOr<std::vector<TokenEntry>> entries =
      ParseTokenFile(kHashA + " a ingest\n" + kHashA + " b query\n");
  ASSERT_FALSE(entries.ok());
  EXPECT_THAT(entries.status().message(), HasSubstr("line 2"));
}

TEST(TokenFileTest, TokenFileLineParsesBackToTheToken) {
  const std::string line = TokenFileLine("smt_secret", "grafana", 2);
  EXPECT_THAT(line, Not(HasSubstr("smt_secret")));
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(line);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ((*entries)[0].digest, Sha256("smt_secret"));
  EXPECT_EQ((*entries)[0].name, "grafana");
  EXPECT_EQ((*entries)[0].scopes, static_cast<ScopeSet>(Scope::kQuery));
}

TEST(TokenFileTest, CallerNames) {
  EXPECT_TRUE(IsValidCallerName("checkout-writer.v2_a"));
  EXPECT_FALSE(IsValidCallerName(""));
  EXPECT_FALSE(IsValidCallerName("a b"));
  EXPECT_FALSE(IsValidCallerName("a\"b"));
  EXPECT_FALSE(IsValidCallerName(std::string(65, 'a')));
}

}  // namespace
}  // namespace streammetrics::security
