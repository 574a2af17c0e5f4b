// ProtobufLog: see protobuf_log.h.
#include "lib/common/protobuf_log.h"

#include <mutex>

#include "google/protobuf/stubs/logging.h"
#include "lib/common/log.h"
#include "lib/common/log_throttle.h"

namespace streammetrics {

// ProtobufLogCapture's friend, declared for Handle below.
void CaptureProtobufLine(const std::string& line);

namespace {

thread_local ProtobufLogCapture* current_capture = nullptr;

LogThrottle& Throttle() {
  static LogThrottle* throttle = new LogThrottle(absl::Seconds(1));
  return *throttle;
}

void Handle(google::protobuf::LogLevel level, const char* filename, int line,
            const std::string& message) {
  if (current_capture != nullptr && level != google::protobuf::LOGLEVEL_FATAL) {
    CaptureProtobufLine(message);
    return;
  }
  uint64_t skipped = 0;
  if (level != google::protobuf::LOGLEVEL_FATAL && !Throttle().Allow(&skipped)) return;
  const LogLevel ours = level == google::protobuf::LOGLEVEL_INFO      ? LogLevel::kInfo
                        : level == google::protobuf::LOGLEVEL_WARNING ? LogLevel::kWarn
                                                                      : LogLevel::kError;
  LogLine(ours, "protobuf_log")
      .Kv("message", message)
      .Kv("source", absl::StrCat(filename == nullptr ? "?" : filename, ":", line))
      .Kv("lines_not_logged_since_last_line", skipped);
}

}  // namespace

void CaptureProtobufLine(const std::string& line) {
  if (current_capture->message_.empty()) current_capture->message_ = line;
}

void RouteProtobufLogs() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&Handle); });
}

ProtobufLogCapture::ProtobufLogCapture() : outer_(current_capture) { current_capture = this; }

ProtobufLogCapture::~ProtobufLogCapture() { current_capture = outer_; }

}  // namespace streammetrics
