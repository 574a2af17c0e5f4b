// ConfigLoader: flags over variables over defaults, and a clear error for each malformed value.
#include "lib/common/config_loader.h"

#include <cstdio>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/stack.h"

namespace streammetrics {
namespace {

using ::testing::HasSubstr;

struct Settings {
  std::string name = "x";
  int64_t count = 1;
  double rate = 2.5;
  absl::Duration wait = absl::Seconds(1);
  bool on = false;
};

absl::Status Load(Settings& s, std::vector<const char*> args,
                  std::map<std::string, std::string> env = {}) {
  ConfigLoader loader("prog");
  loader.String("name", &s.name, "a name");
  loader.Int("count", &s.count, "a count");
  loader.Double("rate", &s.rate, "a rate");
  loader.Duration("wait", &s.wait, "a wait");
  loader.Bool("on", &s.on, "a switch");
  args.insert(args.begin(), "prog");
  return loader.Load(static_cast<int>(args.size()), args.data(), [&env](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(ConfigLoaderTest, FlagsWinOverVariablesWhichWinOverDefaults) {
  Settings s;
  ASSERT_TRUE(
      Load(s, {"--rate=1e5", "--on"}, {{"STREAMMETRICS_RATE", "7"}, {"STREAMMETRICS_COUNT", "9"}})
          .ok());
  EXPECT_EQ(s.rate, 1e5);
  EXPECT_EQ(s.count, 9);
  EXPECT_TRUE(s.on);
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.wait, absl::Seconds(1));
}

TEST(ConfigLoaderTest, MalformedValuesNameTheFlagAndTheExpectedForm) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"--rate=fast", "--rate (STREAMMETRICS_RATE) = \"fast\": expected a finite number"},
      {"--rate=inf", "expected a finite number"},
      {"--rate=nan", "expected a finite number"},
      {"--count=1.5", "expected an integer"},
      {"--unknown=1", "unknown"},
  };
  for (const auto& [flag, why] : cases) {
    Settings s;
    absl::Status status = Load(s, {flag});
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << flag;
    EXPECT_THAT(status.message(), HasSubstr(why)) << flag;
    EXPECT_EQ(s.rate, 2.5) << "a refused value leaves the field as it was";
  }
}

TEST(ConfigLoaderTest, UsageListsEveryFlagWithItsDefault) {
  Settings s;
  ConfigLoader loader("prog");
  loader.Double("rate", &s.rate, "a rate");
  EXPECT_THAT(loader.Usage(), HasSubstr("--rate"));
  EXPECT_THAT(loader.Usage(), HasSubstr("2.5"));
}

TEST(ConfigLoaderTest, SecretsComeFromFilesAndNeverShowInTheUsage) {
  const std::string path = streammetrics::testing::UniqueTempPath("config_loader_secret");
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("s3cret-from-file\n", f);
    std::fclose(f);
  }
  std::string secret = "compiled-default";
  ConfigLoader loader("prog");
  loader.Secret("password", &secret, "a password");
  EXPECT_THAT(loader.Usage(), ::testing::Not(HasSubstr("compiled-default")));
  EXPECT_THAT(loader.Usage(), HasSubstr("STREAMMETRICS_PASSWORD_FILE"));
  std::map<std::string, std::string> env = {{"STREAMMETRICS_PASSWORD_FILE", path}};
  const char* argv[] = {"prog"};
  ASSERT_TRUE(loader
                  .Load(1, argv,
                        [&env](const char* name) {
                          auto it = env.find(name);
                          return it == env.end() ? nullptr : it->second.c_str();
                        })
                  .ok());
  EXPECT_EQ(secret, "s3cret-from-file");  // without the trailing newline

  const char* missing[] = {"prog", "--password_file=/nonexistent/secret"};
  absl::Status s = loader.Load(2, missing);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("cannot read /nonexistent/secret"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace streammetrics
