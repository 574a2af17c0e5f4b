// ProtobufLog: protobuf's own log lines in the structured log, and a way to learn why a parse
// failed. Protobuf reports some parse failures only in its log (a proto3 string field holding
// invalid UTF-8 makes ParseFrom* return false and writes "String field 'x' contains invalid UTF-8
// data" to stderr); a service that answers a client needs that sentence, and must not let a
// client that sends such data at will fill its log.
#ifndef STREAMMETRICS_LIB_COMMON_PROTOBUF_LOG_H_
#define STREAMMETRICS_LIB_COMMON_PROTOBUF_LOG_H_

#include <string>

namespace streammetrics {

// Sends protobuf's log lines to SM_LOG (event=protobuf_log), at most one a second (the count of
// the others on the next line), except those a ProtobufLogCapture on the same thread takes.
// Idempotent; call once at start (each service's main does). Protobuf's FATAL still aborts.
void RouteProtobufLogs();

// While alive, protobuf log lines written by this thread are kept here instead of logged (the
// first one: it names the field). Requires RouteProtobufLogs. Not copyable; nests (the inner one
// takes the lines).
class ProtobufLogCapture {
 public:
  ProtobufLogCapture();
  ~ProtobufLogCapture();
  ProtobufLogCapture(const ProtobufLogCapture&) = delete;
  ProtobufLogCapture& operator=(const ProtobufLogCapture&) = delete;

  // The first line captured; empty when there was none.
  const std::string& message() const { return message_; }

 private:
  friend void CaptureProtobufLine(const std::string& line);
  ProtobufLogCapture* outer_;
  std::string message_;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_PROTOBUF_LOG_H_
