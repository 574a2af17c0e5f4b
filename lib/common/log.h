// Structured logs: one line per event on stderr, in logfmt
//   ts=2026-11-27T23:59:01.123Z level=info event=stream_finished client_id=a events=1000
// so `grep event=` and log shippers parse them without a schema.
//
// Written by hand rather than with spdlog: the whole need is quoting values and one write(2) per
// line (so lines of concurrent threads never interleave), which is smaller than configuring a
// logging library to produce logfmt.
#ifndef STREAMMETRICS_LIB_COMMON_LOG_H_
#define STREAMMETRICS_LIB_COMMON_LOG_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace streammetrics {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Lines below this level are dropped (default kInfo; STREAMMETRICS_LOG_LEVEL=debug|info|warn|error
// sets it at first use).
void SetMinLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

class LogLine {
 public:
  LogLine(LogLevel level, absl::string_view event);
  ~LogLine();  // writes the line
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Kv(absl::string_view key, absl::string_view value);
  LogLine& Kv(absl::string_view key, const char* value) {
    return Kv(key, absl::string_view(value));
  }
  LogLine& Kv(absl::string_view key, const std::string& value) {
    return Kv(key, absl::string_view(value));
  }
  LogLine& Kv(absl::string_view key, absl::Duration d) { return Kv(key, absl::FormatDuration(d)); }
  LogLine& Kv(absl::string_view key, bool b) { return Kv(key, b ? "true" : "false"); }
  template <typename T>
  LogLine& Kv(absl::string_view key, T number) {
    if (enabled_) absl::StrAppend(&line_, " ", key, "=", number);
    return *this;
  }

 private:
  bool enabled_;
  std::string line_;
};

}  // namespace streammetrics

#define SM_LOG(level, event) ::streammetrics::LogLine(::streammetrics::LogLevel::k##level, event)

#endif  // STREAMMETRICS_LIB_COMMON_LOG_H_
