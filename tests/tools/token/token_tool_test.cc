#include "tools/token/token_tool.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/security/token_file.h"

namespace streammetrics::token {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

struct ToolRun {
  int code;
  std::string out;
  std::string err;
};

ToolRun Tool(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  const int code = RunTokenTool(args, in, out, err);
  return {code, out.str(), err.str()};
}

TEST(TokenToolTest, NewPrintsTheTokenAndALineThatAcceptsIt) {
  ToolRun r = Tool({"new", "checkout-writer", "--scopes", "ingest"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], MatchesRegex("smt_[A-Za-z0-9_-]{43}"));
  absl::StatusOr<std::vector<security::TokenEntry>> entries = security::ParseTokenFile(lines[1]);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ((*entries)[0].digest, security::Sha256(lines[0]));
  EXPECT_EQ((*entries)[0].name, "checkout-writer");
  EXPECT_EQ(security::ScopesText((*entries)[0].scopes), "ingest");
  EXPECT_THAT(r.err, HasSubstr("shown once"));
}

TEST(TokenToolTest, TokensAreDifferentEachTime) {
  ToolRun a = Tool({"new", "a", "--scopes=query"});
  ToolRun b = Tool({"new", "a", "--scopes=query"});
  ASSERT_EQ(a.code, 0);
  ASSERT_EQ(b.code, 0);
  EXPECT_NE(a.out, b.out);
}

TEST(TokenToolTest, HashMatchesTheLibrary) {
  ToolRun r = Tool({"hash"}, "smt_abc\n");
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(r.out, security::Sha256Hex("smt_abc") + "\n");
  EXPECT_EQ(Tool({"hash"}, "\n").code, 1);
}

TEST(TokenToolTest, CheckListsNamesOrNamesTheBadLine) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "sm-token-tool-test-tokens").string();
  std::ofstream(path) << security::TokenFileLine("t", "grafana", 2) << "\n";
  ToolRun ok = Tool({"check", path});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "grafana query\n");
  std::ofstream(path) << "# ok\nnot a line\n";
  ToolRun bad = Tool({"check", path});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("line 2"));
  std::filesystem::remove(path);
}

TEST(TokenToolTest, UsageErrors) {
  EXPECT_EQ(Tool({}).code, 2);
  EXPECT_EQ(Tool({"new", "a"}).code, 2);
  EXPECT_EQ(Tool({"new", "bad name", "--scopes", "ingest"}).code, 2);
  EXPECT_EQ(Tool({"new", "a", "--scopes", "admin"}).code, 2);
  EXPECT_EQ(Tool({"rotate"}).code, 2);
}

}  // namespace
}  // namespace streammetrics::token
