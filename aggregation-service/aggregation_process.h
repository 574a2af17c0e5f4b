// AggregationProcess: the aggregation service as one object, so its start and shutdown order is
// written (and tested) in one place instead of in main. It owns every adapter — the PostgreSQL
// store, reader and partition maintainer, the Kafka consumer and publisher, the Redis cache and its
// writer, the feed of final windows, the gRPC server — and the thread running the consume loop.
//
// Start order: metrics endpoint, PostgreSQL store (fails fast on an unmigrated schema), a first
// pass of the partition maintainer (then its thread), Kafka publisher (checks the topics),
// reader, cache, watch feed, consumer, gRPC server, consume loop.
// Stop order, the one that loses nothing and replays least: not serving; the partition maintainer
// stops; watch streams end (the server's shutdown waits for open calls); the feed stops; the
// consume loop checkpoints, waits for its publications and leaves the group; the server shuts
// down; the cache writer writes what the cache still lacks; the publisher flushes.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_PROCESS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_PROCESS_H_

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation-service/aggregation_config.h"

namespace streammetrics::aggregation {

class AggregationProcess {
 public:
  // Builds every part and starts serving. Fails with the first part's error, every part built so
  // far stopped again: InvalidArgument for a bad setting (e.g. the cache's), Unavailable or
  // FailedPrecondition for a server that cannot be reached or is not set up (PostgreSQL schema,
  // Kafka topics), Unavailable for an address that cannot be bound.
  static absl::StatusOr<std::unique_ptr<AggregationProcess>> Start(AggregationConfig config);

  // Stop(), if not called yet.
  ~AggregationProcess();

  // Samples the gauges that are read rather than counted and sets the health status (not serving
  // while checkpoints fail). Call about once a second. Returns false once the consume loop has
  // ended by itself (a fatal error): the process should stop.
  bool Supervise();

  // Stops in the order above and waits for every part. Returns OK after a clean shutdown, or the
  // error that ended the consume loop (the next owner of its partitions replays from the last
  // committed checkpoint, so nothing is lost). Publications Kafka did not confirm in time are
  // logged: the outbox republishes them. Idempotent.
  absl::Status Stop();

  // The bound QueryService port (the chosen one when the address asked for port 0).
  int query_port() const;

 private:
  struct Parts;
  explicit AggregationProcess(std::unique_ptr<Parts> parts);

  std::unique_ptr<Parts> parts_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> loop_done_{false};
  absl::Status loop_status_;
  std::thread loop_;
  bool stopped_ = false;
  absl::Status stop_status_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_PROCESS_H_
