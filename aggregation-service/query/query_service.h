// QueryServiceImpl: the gRPC callback service of streammetrics.v1.QueryService. Thin on purpose:
// every call is first admitted by the CallGuard (bearer token with the query scope) under a
// caller name, which bounds what one caller may hold (queued calls, watchers); unary calls go
// to QueryWorkers (queries block on PostgreSQL; reactions must not) and run the
// QueryHandler there; WatchAggregates streams are write reactors fed by the WatchHub. The status
// conversion happens here, once (lib/common/grpc_status.h).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_SERVICE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_SERVICE_H_

#include <cstddef>
#include <memory>

#include "absl/time/time.h"
#include "aggregation-service/query/query_handler.h"
#include "aggregation-service/query/query_metrics.h"
#include "aggregation-service/query/query_workers.h"
#include "aggregation-service/query/watch_hub.h"
#include "lib/security/call_guard.h"
#include "lib/security/caller_limits.h"
#include "streammetrics/v1/query.grpc.pb.h"

namespace streammetrics::aggregation {

struct QueryServiceOptions {
  // Threads running queries, and calls that may wait for one before new calls are refused.
  size_t worker_threads = 4;
  size_t max_queued_calls = 256;
  // Windows a watcher may fall behind before it is cut off with RESOURCE_EXHAUSTED. Large
  // enough for the burst of a minute's end (every series of a service finalizes at once), small
  // enough that WatchHub's watcher limit bounds the memory (100 x 10,000 windows of ~300 bytes).
  size_t watch_buffer = 10000;
  // WatchAggregates streams open at once; one more is refused with RESOURCE_EXHAUSTED. With
  // watch_buffer it bounds the memory watchers can hold.
  size_t max_watchers = 100;
  // Watchers one caller may hold, so one dashboard gone wild leaves room for the others.
  size_t max_watchers_per_caller = 25;
  // Unary calls of one caller waiting for or holding a query thread; one more is refused with
  // RESOURCE_EXHAUSTED, so one caller cannot fill the queue that every caller shares.
  size_t max_queued_calls_per_caller = 64;
  // Longest a unary call may run, whatever deadline its client set (or none): a Summarize over
  // 31 days of many series must not hold a worker, or the server's shutdown, for minutes.
  absl::Duration max_call_duration = absl::Seconds(30);
};

class QueryServiceImpl final : public v1::QueryService::CallbackService {
 public:
  // `handler`, `hub`, `metrics` and `guard` must outlive the service. Call hub->Close() before
  // shutting the server down, so open watch streams end (gRPC's Shutdown waits for them). A null
  // `guard` (tests) admits everyone as "anonymous".
  QueryServiceImpl(QueryServiceOptions options, QueryHandler* handler, WatchHub* hub,
                   QueryMetrics* metrics, security::CallGuard* guard = nullptr);

  // Unary calls of `caller` admitted and not finished yet (running or queued for a worker).
  size_t CallsHeldBy(absl::string_view caller) const { return queued_.held_by(caller); }

  grpc::ServerUnaryReactor* QueryAggregates(grpc::CallbackServerContext* context,
                                            const v1::QueryAggregatesRequest* request,
                                            v1::QueryAggregatesResponse* response) override;
  grpc::ServerUnaryReactor* GetLatest(grpc::CallbackServerContext* context,
                                      const v1::GetLatestRequest* request,
                                      v1::GetLatestResponse* response) override;
  grpc::ServerUnaryReactor* ListSeries(grpc::CallbackServerContext* context,
                                       const v1::ListSeriesRequest* request,
                                       v1::ListSeriesResponse* response) override;
  grpc::ServerUnaryReactor* Summarize(grpc::CallbackServerContext* context,
                                      const v1::SummarizeRequest* request,
                                      v1::SummarizeResponse* response) override;
  grpc::ServerWriteReactor<v1::WindowAggregate>* WatchAggregates(
      grpc::CallbackServerContext* context, const v1::WatchAggregatesRequest* request) override;

 private:
  // Runs `answer` (which fills the response and returns the status) on a worker, then finishes
  // the call; RESOURCE_EXHAUSTED at once when the workers' queue is full.
  template <typename Answer>
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, QueryMetrics::Rpc rpc,
                                     Answer answer);

  const QueryServiceOptions options_;
  std::unique_ptr<security::CallGuard> own_guard_;  // when none was given
  security::CallGuard* const guard_;
  security::CallerSlots watchers_;
  security::CallerSlots queued_;
  QueryHandler* const handler_;
  WatchHub* const hub_;
  QueryMetrics* const metrics_;
  // Last member: destroyed first, so its threads finish their calls while the rest is alive.
  QueryWorkers workers_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_SERVICE_H_
