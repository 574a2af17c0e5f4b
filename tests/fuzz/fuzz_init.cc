// Linked into every fuzz target: protobuf's log lines (a string field with invalid UTF-8 logs one
// on every parse) go through the services' own routing, at most one a second, as in production.
// Without it they flooded the fuzzers' output and slowed them down threefold.
#include "lib/common/protobuf_log.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  streammetrics::RouteProtobufLogs();
  return 0;
}
