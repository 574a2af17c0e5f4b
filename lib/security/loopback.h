// Loopback: whether an address or a channel target stays on this host. Servers use it to decide
// whether a port needs protection; clients, whether a token may travel without TLS.
#ifndef STREAMMETRICS_LIB_SECURITY_LOOPBACK_H_
#define STREAMMETRICS_LIB_SECURITY_LOOPBACK_H_

#include "absl/strings/string_view.h"

namespace streammetrics::security {

// True for listening addresses only this host can reach: 127.0.0.0/8, ::1, localhost, unix
// sockets. False for 0.0.0.0 / [::] (every interface), other names, and what does not parse.
bool IsLoopbackAddress(absl::string_view address);

// The same for a gRPC channel target, which may carry a resolver scheme: "dns:///host:port",
// "dns:host:port", "ipv4:127.0.0.1:port", "ipv6:[::1]:port", "unix:path". A target listing several
// addresses is loopback only when all of them are.
bool IsLoopbackTarget(absl::string_view target);

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_LOOPBACK_H_
