#include "lib/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"

namespace streammetrics {
namespace {

LogLevel LevelFromEnv() {
  const char* v = std::getenv("STREAMMETRICS_LOG_LEVEL");
  const std::string s = v == nullptr ? "" : absl::AsciiStrToLower(v);
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int>& MinLevel() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnv())};
  return level;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

}  // namespace

void SetMinLogLevel(LogLevel level) { MinLevel().store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= MinLevel().load(); }

LogLine::LogLine(LogLevel level, absl::string_view event) : enabled_(LogEnabled(level)) {
  if (!enabled_) return;
  line_ = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      " level=", LevelName(level), " event=", event);
}

LogLine& LogLine::Kv(absl::string_view key, absl::string_view value) {
  if (!enabled_) return *this;
  absl::StrAppend(&line_, " ", key, "=");
  if (!NeedsQuotes(value)) {
    line_.append(value.data(), value.size());
    return *this;
  }
  line_.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      line_.push_back('\\');
      line_.push_back(c);
    } else if (c == '\n') {
      line_.append("\\n");
    } else if (static_cast<unsigned char>(c) < 0x20) {
      line_.push_back('?');
    } else {
      line_.push_back(c);
    }
  }
  line_.push_back('"');
  return *this;
}

LogLine::~LogLine() {
  if (!enabled_) return;
  line_.push_back('\n');
  // One write per line keeps concurrent lines whole; a failed write to stderr has nowhere to go.
  (void)!::write(STDERR_FILENO, line_.data(), line_.size());
}

}  // namespace streammetrics
