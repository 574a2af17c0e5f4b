// QueryMetrics: names, help texts and buckets (see the header).
#include "aggregation-service/query/query_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace streammetrics::aggregation {
namespace {

constexpr const char* kRpcNames[] = {"QueryAggregates", "GetLatest", "ListSeries", "Summarize",
                                     "WatchAggregates"};

std::string CodeLabel(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

}  // namespace

QueryMetrics::QueryMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  auto& r = *registry_;
  const std::string p = "streammetrics_query_";
  requests_ = &prometheus::BuildCounter()
                   .Name(p + "requests_total")
                   .Help("QueryService calls answered, by RPC and status code.")
                   .Register(r);
  auto& latency = prometheus::BuildHistogram()
                      .Name(p + "latency_seconds")
                      .Help("Time from a call's arrival to its answer, by RPC.")
                      .Register(r);
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 0.0001; b < 60; b *= 2) buckets.push_back(b);
  for (int rpc = 0; rpc < kRpcCount; ++rpc) {
    latency_[rpc] = &latency.Add({{"rpc", kRpcNames[rpc]}}, buckets);
  }
  auto counter = [&r](const std::string& name, const std::string& help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
  };
  auto gauge = [&r](const std::string& name, const std::string& help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
  };
  cache_hits_ = counter(p + "cache_hits_total", "GetLatest answers served from Redis.");
  cache_misses_ = counter(p + "cache_misses_total",
                          "GetLatest calls Redis had nothing for (answered from PostgreSQL).");
  cache_errors_ =
      counter(p + "cache_errors_total", "GetLatest calls Redis failed (answered from PostgreSQL).");
  cache_available_ =
      gauge(p + "cache_available", "1 while Redis answers; 0 while every read goes to PostgreSQL.");
  cache_pending_ =
      gauge(p + "cache_pending_windows", "Committed windows waiting to be written to Redis.");
  watchers_ = gauge(p + "watchers", "Open WatchAggregates streams.");
  watchers_exhausted_ = counter(
      p + "watchers_exhausted_total",
      "WatchAggregates streams cut off with RESOURCE_EXHAUSTED because they read too slowly.");
  cache_available_->Set(1);
}

void QueryMetrics::Answered(Rpc rpc, absl::StatusCode code, absl::Duration latency) {
  requests_->Add({{"rpc", kRpcNames[rpc]}, {"code", CodeLabel(code)}}).Increment();
  latency_[rpc]->Observe(absl::ToDoubleSeconds(latency));
}

double QueryMetrics::answered(Rpc rpc, absl::StatusCode code) const {
  return requests_->Add({{"rpc", kRpcNames[rpc]}, {"code", CodeLabel(code)}}).Value();
}

}  // namespace streammetrics::aggregation
