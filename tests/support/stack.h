// Where the local stack runs, for integration tests, and how to wait for it without sleeping.
//
// Addresses come from the same STREAMMETRICS_* environment variables deploy/local/ reads, with the
// same defaults, so tests follow an overridden stack.
#ifndef STREAMMETRICS_TESTS_SUPPORT_STACK_H_
#define STREAMMETRICS_TESTS_SUPPORT_STACK_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace streammetrics::testing {

// "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092" unless STREAMMETRICS_KAFKA_BOOTSTRAP is set.
std::string KafkaBootstrap();
// libpq connection string of the local PostgreSQL (STREAMMETRICS_PG_URL).
std::string PostgresUrl();
// `relative` under the source tree, e.g. SourcePath("deploy/migrations").
std::string SourcePath(const std::string& relative);
// Redis host and port (STREAMMETRICS_REDIS_HOST / STREAMMETRICS_REDIS_PORT).
std::string RedisHost();
int RedisPort();

// Runs `deploy/local/kafka-node.sh <action> <node>` (action: stop, start, kill) and waits for it.
// Fails with Internal carrying the exit code when the script fails.
absl::Status KafkaNode(const std::string& action, int node);

// Runs `deploy/local/postgres-ctl.sh <action>` (action: stop, start, restart) and waits for it:
// stop is a fast shutdown (sessions terminated), start returns once the server answers. Fails
// with Internal carrying the exit code when the script fails.
absl::Status PostgresControl(const std::string& action);

// Runs `deploy/local/redis-ctl.sh <action>` (action: stop, start, restart) and waits for it: stop
// is Redis's shutdown on SIGTERM (clients disconnected), start returns once the server answers.
// Fails with Internal carrying the exit code when the script fails.
absl::Status RedisControl(const std::string& action);

// A TCP port free on loopback right now, chosen at random below the kernel's ephemeral range:
// tests run in parallel, and a port from that range could be handed to another process's
// outgoing connection or port-0 server before the caller binds it. Two callers drawing the same
// port in the same moment remain possible, but rare.
int FreePort();

// A path in the temporary directory no other test process uses: ctest runs tests in parallel,
// each in its own process, so a fixed name is written and removed by several at once.
// Nothing is created; `stem` ends the name.
std::string UniqueTempPath(const std::string& stem);

// Calls `done` until it returns true or `timeout` passes, yielding briefly between calls.
// Returns true if `done` returned true in time.
bool PollUntil(absl::Duration timeout, const std::function<bool()>& done);

// The body of `GET /metrics` from a Prometheus endpoint at "127.0.0.1:port" (HTTP/1.0 over a
// socket), or "" when it does not answer.
std::string ScrapeMetrics(const std::string& address);

// The value of the sample named exactly `sample` (with its labels, e.g.
// `x_total{code="ok"}`) in `exposition`, or -1 when absent.
double MetricValue(const std::string& exposition, const std::string& sample);

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_STACK_H_
