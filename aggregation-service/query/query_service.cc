// QueryServiceImpl (see the header).
#include "aggregation-service/query/query_service.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/common/grpc_status.h"

namespace streammetrics::aggregation {
namespace {

absl::Time DeadlineOf(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// One WatchAggregates stream: carries out what its WatchQueue decides (watch_hub.h).
class WatchReactor final : public grpc::ServerWriteReactor<v1::WindowAggregate> {
 public:
  WatchReactor(WatchHub* hub, QueryMetrics* metrics, WatchFilter filter, size_t buffer,
               security::CallerSlots::Slot slot)
      : hub_(hub), metrics_(metrics), started_(absl::Now()), slot_(std::move(slot)) {
    watcher_ = std::make_shared<Watcher>();
    watcher_->queue = std::make_shared<WatchQueue>(std::move(filter), buffer);
    watcher_->execute = [this](WatchAction action) { Execute(std::move(action)); };
    if (!hub_->Subscribe(watcher_)) {
      subscribed_ = false;
      Execute(watcher_->queue->End(absl::UnavailableError(
          "too many watchers on this instance, or it is shutting down: retry later or on "
          "another instance")));
      return;
    }
    metrics_->SetWatchers(hub_->watchers());
  }

  void OnWriteDone(bool ok) override { Execute(watcher_->queue->WriteDone(ok)); }

  void OnCancel() override {
    Execute(watcher_->queue->End(absl::CancelledError("the client cancelled the watch")));
  }

  void OnDone() override {
    slot_.Release();
    if (subscribed_) hub_->Unsubscribe(watcher_);
    metrics_->SetWatchers(hub_->watchers());
    metrics_->Answered(QueryMetrics::kWatchAggregates, final_code_, absl::Now() - started_);
    delete this;
  }

 private:
  void Execute(WatchAction action) {
    switch (action.kind) {
      case WatchAction::kNone:
        return;
      case WatchAction::kWrite:
        StartWrite(action.write);
        return;
      case WatchAction::kFinish:
        final_code_ = action.status.code();
        Finish(ToGrpcStatus(action.status));
        return;
    }
  }

  WatchHub* const hub_;
  QueryMetrics* const metrics_;
  const absl::Time started_;
  security::CallerSlots::Slot slot_;  // one of the caller's watchers
  std::shared_ptr<Watcher> watcher_;
  bool subscribed_ = true;
  // Written before Finish, read in OnDone, which gRPC runs after Finish.
  absl::StatusCode final_code_ = absl::StatusCode::kOk;
};

// A call refused before any work: ends with `status` at once.
template <typename Base>
class Refused final : public Base {
 public:
  explicit Refused(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

QueryServiceImpl::QueryServiceImpl(QueryServiceOptions options, QueryHandler* handler,
                                   WatchHub* hub, QueryMetrics* metrics, security::CallGuard* guard)
    : options_(options),
      own_guard_(guard != nullptr
                     ? nullptr
                     : std::make_unique<security::CallGuard>(nullptr, *metrics->registry())),
      guard_(guard != nullptr ? guard : own_guard_.get()),
      watchers_("watchers", options.max_watchers, options.max_watchers_per_caller),
      queued_("queued queries", 0, options.max_queued_calls_per_caller),
      handler_(handler),
      hub_(hub),
      metrics_(metrics),
      workers_(options.worker_threads, options.max_queued_calls) {}

template <typename Answer>
grpc::ServerUnaryReactor* QueryServiceImpl::RunUnary(grpc::CallbackServerContext* context,
                                                     QueryMetrics::Rpc rpc, Answer answer) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time arrived = absl::Now();
  absl::StatusOr<std::string> caller = guard_->Admit(*context, security::Scope::kQuery);
  auto slot = std::make_shared<security::CallerSlots::Slot>();
  absl::Status admitted = caller.status();
  if (admitted.ok()) admitted = queued_.Acquire(*caller, slot.get());
  if (!admitted.ok()) {
    metrics_->Answered(rpc, admitted.code(), absl::Now() - arrived);
    reactor->Finish(ToGrpcStatus(admitted));
    return reactor;
  }
  const absl::Time deadline = std::min(DeadlineOf(context), arrived + options_.max_call_duration);
  QueryMetrics* metrics = metrics_;
  // The task holds the caller's slot until it has answered.
  const bool queued =
      workers_.Submit([reactor, context, arrived, deadline, metrics, rpc, answer, slot] {
        absl::Status status;
        if (context->IsCancelled()) {
          status = absl::CancelledError("the call was cancelled before it ran");
        } else if (absl::Now() > deadline) {
          status = absl::DeadlineExceededError(
              "the deadline passed while the call waited for a query thread: the service is busy; "
              "retry with backoff");
        } else {
          status = answer(deadline, [context] { return context->IsCancelled(); });
        }
        metrics->Answered(rpc, status.code(), absl::Now() - arrived);
        slot->Release();
        reactor->Finish(ToGrpcStatus(status));
      });
  if (!queued) {
    const absl::Status busy = absl::ResourceExhaustedError(
        absl::StrCat(options_.max_queued_calls,
                     " queries are already waiting on this instance: retry with backoff"));
    metrics_->Answered(rpc, busy.code(), absl::Now() - arrived);
    reactor->Finish(ToGrpcStatus(busy));
  }
  return reactor;
}

// Each answer copies the handler's result into the response gRPC owns; it runs on a worker.
template <typename Response>
absl::Status Fill(absl::StatusOr<Response> result, Response* response) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* QueryServiceImpl::QueryAggregates(
    grpc::CallbackServerContext* context, const v1::QueryAggregatesRequest* request,
    v1::QueryAggregatesResponse* response) {
  return RunUnary(context, QueryMetrics::kQueryAggregates,
                  [this, request, response](absl::Time, const std::function<bool()>&) {
                    return Fill(handler_->QueryAggregates(*request), response);
                  });
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetLatest(grpc::CallbackServerContext* context,
                                                      const v1::GetLatestRequest* request,
                                                      v1::GetLatestResponse* response) {
  return RunUnary(context, QueryMetrics::kGetLatest,
                  [this, request, response](absl::Time, const std::function<bool()>&) {
                    return Fill(handler_->GetLatest(*request), response);
                  });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListSeries(grpc::CallbackServerContext* context,
                                                       const v1::ListSeriesRequest* request,
                                                       v1::ListSeriesResponse* response) {
  return RunUnary(context, QueryMetrics::kListSeries,
                  [this, request, response](absl::Time, const std::function<bool()>&) {
                    return Fill(handler_->ListSeries(*request), response);
                  });
}

grpc::ServerUnaryReactor* QueryServiceImpl::Summarize(grpc::CallbackServerContext* context,
                                                      const v1::SummarizeRequest* request,
                                                      v1::SummarizeResponse* response) {
  return RunUnary(
      context, QueryMetrics::kSummarize,
      [this, request, response](absl::Time deadline, const std::function<bool()>& cancelled) {
        return Fill(handler_->Summarize(*request, deadline, cancelled), response);
      });
}

grpc::ServerWriteReactor<v1::WindowAggregate>* QueryServiceImpl::WatchAggregates(
    grpc::CallbackServerContext* context, const v1::WatchAggregatesRequest* request) {
  using Reactor = grpc::ServerWriteReactor<v1::WindowAggregate>;
  absl::StatusOr<std::string> caller = guard_->Admit(*context, security::Scope::kQuery);
  absl::StatusOr<WatchFilter> filter =
      caller.ok() ? ParseWatch(*request, handler_->limits()) : caller.status();
  security::CallerSlots::Slot slot;
  absl::Status admitted = filter.status();
  if (admitted.ok()) admitted = watchers_.Acquire(*caller, &slot);
  if (!admitted.ok()) {
    // The stream ends with the reason before any window.
    metrics_->Answered(QueryMetrics::kWatchAggregates, admitted.code(), absl::ZeroDuration());
    return new Refused<Reactor>(admitted);
  }
  return new WatchReactor(hub_, metrics_, *std::move(filter), options_.watch_buffer,
                          std::move(slot));
}

}  // namespace streammetrics::aggregation
