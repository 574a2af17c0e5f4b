// Utf8Check: the client library's check that an event's strings are valid UTF-8 before it joins a
// batch. Protobuf's proto3 string fields must hold UTF-8; one invalid byte makes the whole batch
// unparseable at the server (a MALFORMED rejection), so the other events of that batch would go
// with it. Refusing the one event at Send keeps the others. Pure code.
#ifndef STREAMMETRICS_LIB_CLIENT_UTF8_CHECK_H_
#define STREAMMETRICS_LIB_CLIENT_UTF8_CHECK_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::client {

// The offset of the first byte of `text` that does not begin or continue a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
// Written here because protobuf's own check is internal API.
size_t FindInvalidUtf8(absl::string_view text);

// OK when every string of `event` (ids, names, unit, tag and metadata keys and values) is valid
// UTF-8; otherwise InvalidArgument naming the field and the byte.
absl::Status CheckUtf8(const v1::MetricEvent& event);

}  // namespace streammetrics::client

#endif  // STREAMMETRICS_LIB_CLIENT_UTF8_CHECK_H_
