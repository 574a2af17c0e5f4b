// Building librdkafka configurations and clients from property lists, with Status errors.
//
// Every Kafka client in StreamMetrics is made here, so the zero-loss producer settings live in one
// place and a mistyped pass-through property fails at start with its name, never silently.
#ifndef STREAMMETRICS_LIB_KAFKA_KAFKA_CONFIG_H_
#define STREAMMETRICS_LIB_KAFKA_KAFKA_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::kafka {

// Ordered (name, value) pairs; a later pair overrides an earlier one of the same name.
using Properties = std::vector<std::pair<std::string, std::string>>;

// The producer settings zero loss depends on (docs/contract.md §5): idempotence, acks=all,
// unbounded retries within message.timeout.ms, and the murmur2_random partitioner so Java clients
// place keys alike. Throughput settings (linger, batch size, compression) are the caller's.
Properties ZeroLossProducerProperties(absl::string_view bootstrap_servers);

// Settings every client (producer and consumer) takes so that a broker that stalls with its
// sockets open (a long GC pause, SIGSTOP, a frozen VM) costs seconds, not a minute: a request to it
// times out after socket.timeout.ms (8 s, librdkafka's default is 60 s), the connection is
// dropped and fresh metadata sends the work to the partition's new leader, which KRaft elects
// once the stalled node misses its broker session (broker.session.timeout.ms, 6 s in the shipped
// broker configs; docs/latency.md).
// Callers put them before pass-through properties, so an operator can still override them.
Properties StallTolerantClientProperties();

// Parses "name=value,name2=value2" (as given in STREAMMETRICS_*_KAFKA_PROPERTIES) into pairs.
// Whitespace around names and values is trimmed; an empty string gives no pairs. A value cannot
// contain a comma (there is no escape); such settings belong in a file librdkafka reads, e.g.
// ssl.ca.location or sasl.oauthbearer.config through a file.
// Fails with InvalidArgument naming the item's position (never its text, which may hold a
// password) when one has no '=' or an empty name.
absl::StatusOr<Properties> ParseProperties(absl::string_view text);

// Returns a configuration with every property set, in order.
// Fails with InvalidArgument naming the property and librdkafka's reason when one is unknown or
// has an invalid value. Values are never shown (librdkafka's reason is scrubbed of it too): any
// property may hold a secret, a misspelled sasl.password included.
absl::StatusOr<ConfPtr> MakeConf(const Properties& properties);

// Creates a client of `type` from `conf`, which it consumes (freed if creation fails).
// Fails with InvalidArgument carrying librdkafka's reason (e.g. conflicting properties).
absl::StatusOr<HandlePtr> MakeClient(rd_kafka_type_t type, ConfPtr conf);

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_KAFKA_CONFIG_H_
