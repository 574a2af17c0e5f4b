// OtlpMetricsService (contract in otlp_service.h).
#include "ingest-service/otlp/otlp_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"
#include "ingest-service/batch_parser.h"
#include "ingest-service/ingest_service.h"
#include "ingest-service/otlp/otlp_records.h"
#include "lib/common/grpc_status.h"
#include "lib/common/log.h"
#include "lib/common/protobuf_log.h"

namespace streammetrics::ingest::otlp {
namespace {

using ExportResponse = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse;

// A caller this far in debt to its rate gets no new export: it is told to back off instead.
constexpr absl::Duration kMaxDebtAtExport = absl::Seconds(1);
// What a caller over its exports in flight is told to wait.
constexpr absl::Duration kExportLimitRetry = absl::Milliseconds(200);
// Rejection messages quoted in partial_success.error_message (all are counted).
constexpr size_t kQuotedRejections = 3;

absl::Status Unavailable(grpc::CallbackServerContext* context, absl::Duration retry,
                         absl::string_view message) {
  const int64_t ms = AddRetryAfter(context, retry);
  return absl::UnavailableError(absl::StrCat(message, "; retry in ", ms, " ms"));
}

// One export from admission to answer: the call's reactor. It owns itself through self_ (set by
// Start, dropped in OnDone); the delivery callback holds a shared_ptr too, so the call outlives
// it, and the budget waiter a weak one. State moves under mu_: kMapping (Run), kParked (waiting for
// budget room), kSent (handed to the sink), kAnswered. Exactly one path answers: the first to move
// the state to kAnswered. The export slot is released just before the answer is sent.
class ExportCall final : public grpc::ServerUnaryReactor {
 public:
  ExportCall(const OtlpDeps& deps, grpc::CallbackServerContext* context, grpc::ByteBuffer* response,
             std::string caller, security::CallerSlots::Slot slot)
      : deps_(deps),
        context_(context),
        response_(response),
        caller_(std::move(caller)),
        slot_(std::move(slot)),
        received_(deps.ingest.clock->Now()) {}

  // Takes ownership of itself and handles the request. Call once, right after construction.
  void Start(std::shared_ptr<ExportCall> self, const grpc::ByteBuffer& bytes) {
    {
      absl::MutexLock lock(&mu_);
      self_ = std::move(self);
    }
    Run(bytes);
  }

  // A parked export is answered at once (nothing was sent); one handed to Kafka is answered by
  // its delivery as usual.
  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (state_ != State::kParked) return;
      state_ = State::kAnswered;
    }
    Finished(absl::CancelledError("the client cancelled the export while it waited for room"),
             nullptr);
  }

  void OnDone() override {
    // Last statement: may destroy `this` when no delivery callback holds it.
    std::shared_ptr<ExportCall> keep;
    absl::MutexLock lock(&mu_);
    keep = std::move(self_);
  }

 private:
  enum class State { kMapping, kParked, kSent, kAnswered };

  void Run(const grpc::ByteBuffer& bytes) {
    // Parsed onto an arena: an export of 500 points is thousands of small messages (attributes,
    // values), which the arena allocates by bumping a pointer and frees in a few blocks.
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = 16 << 10;
    arena_options.max_block_size = 256 << 10;
    google::protobuf::Arena arena(arena_options);
    ExportRequest& request = *google::protobuf::Arena::CreateMessage<ExportRequest>(&arena);
    grpc::ByteBuffer copy(bytes);  // the parser consumes it; slices are shared, not copied
    if (absl::Status parsed =
            ParseMessage(&copy, &request, "ExportMetricsServiceRequest", "fix the exporter");
        !parsed.ok()) {
      return Answer(parsed, nullptr);
    }
    const ExportCounts counts = CountExport(request);
    const size_t points = counts.points;
    const size_t containers = counts.containers;
    if (points > deps_.max_points_per_export || containers > deps_.max_points_per_export) {
      return Answer(
          absl::InvalidArgumentError(absl::StrCat(
              "the export holds ", points, " data points in ", containers,
              " resources, scopes and metrics; the limit is ", deps_.max_points_per_export,
              " of each per export: lower the exporter's batch size (e.g. the "
              "Collector's send_batch_max_size)")),
          nullptr);
    }
    if (deps_.ingest.rate->enabled()) {
      deps_.ingest.rate->Reserve(caller_, static_cast<double>(points));
    }
    deps_.ingest.metrics->ForCaller(caller_).events->Increment(static_cast<double>(points));
    MappedExport mapped = MapExport(request, deps_.ingest.limits, deps_.tracker);
    points_ = mapped.points;
    prepared_ = PrepareExport(mapped, deps_.ingest.limits, deps_.ingest.topics, caller_,
                              deps_.ingest.clock->Now());
    deps_.metrics->Points(mapped, prepared_.records.size() - prepared_.rejections.size(),
                          prepared_.rejections.size());
    for (const v1::Rejection& r : prepared_.rejections) {
      deps_.ingest.metrics->EventRejected(r.reason());
    }
    if (prepared_.records.empty()) return Answer(absl::OkStatus(), nullptr);
    SendWhenRoom();
  }

  // Sends now if the process budget has room, else parks until it has and looks again then:
  // every parked export is woken at once, and each must find room of its own, or together they
  // would overshoot the budget.
  void SendWhenRoom() {
    for (;;) {
      if (deps_.ingest.budget->HasRoom()) return Send();
      std::weak_ptr<ExportCall> weak;
      {
        absl::MutexLock lock(&mu_);
        if (state_ == State::kAnswered) return;  // cancelled while parked
        state_ = State::kParked;
        weak = self_;
      }
      // Waiters are never unregistered, so the waiter holds a weak pointer; self_ keeps the call
      // alive until it is done.
      if (deps_.ingest.budget->CallWhenRoom([weak] {
            if (auto self = weak.lock()) self->SendWhenRoom();
          })) {
        return;
      }
      // Room appeared in between: look again.
    }
  }

  void Send() {
    std::shared_ptr<ExportCall> self;
    {
      absl::MutexLock lock(&mu_);
      if (state_ == State::kAnswered) return;  // cancelled while parked: answered already
      state_ = State::kSent;
      self = self_;
    }
    if (context_->IsCancelled()) {
      return Answer(absl::CancelledError("the client cancelled the export before it was sent"),
                    nullptr);
    }
    deps_.ingest.budget->Acquire(prepared_.bytes);
    sent_at_ = deps_.ingest.clock->Now();
    deps_.ingest.sink->SendBatch(
        std::move(prepared_.records),
        [self](std::vector<absl::Status> results) { self->OnDelivered(results); });
  }

  // Runs on the sink's delivery thread.
  void OnDelivered(const std::vector<absl::Status>& results) {
    deps_.ingest.budget->Release(prepared_.bytes);
    deps_.ingest.metrics->BatchDelivered(deps_.ingest.clock->Now() - sent_at_);
    const BatchResult r = Tally(results, prepared_.rejections);
    deps_.ingest.metrics->EventsAccepted(r.accepted);
    deps_.ingest.metrics->EventsFailed(r.failed, r.failed_permanently);
    if (r.failed > 0) {
      const std::string what =
          absl::StrCat("Kafka did not confirm ", r.failed, " of ", results.size(),
                       " records of this export (first: ", r.first_failure.message(), ")");
      if (r.failed_permanently > 0) {
        return Answer(absl::InvalidArgumentError(
                          absl::StrCat(what,
                                       "; Kafka refuses them for good, so a retry fails "
                                       "the same way")),
                      nullptr);
      }
      return Answer(absl::UnavailableError(absl::StrCat(
                        what, "; retry the export: points already stored are counted once")),
                    nullptr);
    }
    ExportResponse response;
    if (!prepared_.rejections.empty()) {
      auto* partial = response.mutable_partial_success();
      partial->set_rejected_data_points(static_cast<int64_t>(prepared_.rejections.size()));
      std::string message = absl::StrCat(prepared_.rejections.size(), " of ", points_,
                                         " data points were rejected and dead-lettered: ");
      for (size_t i = 0; i < prepared_.rejections.size() && i < kQuotedRejections; ++i) {
        absl::StrAppend(&message, i == 0 ? "" : "; ", prepared_.rejections[i].message());
      }
      if (prepared_.rejections.size() > kQuotedRejections) {
        absl::StrAppend(&message, "; and ", prepared_.rejections.size() - kQuotedRejections,
                        " more (see the dead-letter topic)");
      }
      partial->set_error_message(std::move(message));
    }
    Answer(absl::OkStatus(), &response);
  }

  // Answers unless another path did (a cancel while parked).
  void Answer(const absl::Status& status, const ExportResponse* response) {
    {
      absl::MutexLock lock(&mu_);
      if (state_ == State::kAnswered) return;
      state_ = State::kAnswered;
    }
    Finished(status, response);
  }

  // Sends the answer. Called once, by whoever moved the state to kAnswered.
  void Finished(const absl::Status& status, const ExportResponse* response) {
    if (status.ok()) {
      const std::string bytes = response == nullptr ? "" : response->SerializeAsString();
      grpc::Slice slice(bytes);
      *response_ = grpc::ByteBuffer(&slice, 1);
    }
    const grpc::Status answer = ToGrpcStatus(status);
    deps_.metrics->ExportAnswered(answer.error_code(), deps_.ingest.clock->Now() - received_);
    // Freed before the answer leaves: a client that sends its next export as soon as it has
    // this answer must find the slot free, or a caller at its limit would be refused at random.
    slot_.Release();
    Finish(answer);
  }

  const OtlpDeps& deps_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_;  // owned by gRPC, valid until OnDone
  const std::string caller_;
  security::CallerSlots::Slot slot_;
  const absl::Time received_;
  absl::Time sent_at_;
  size_t points_ = 0;
  PreparedExport prepared_;
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kMapping;
  std::shared_ptr<ExportCall> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

OtlpMetricsService::OtlpMetricsService(OtlpDeps deps) : deps_(std::move(deps)) {
  RouteProtobufLogs();  // ParseExport learns why a request does not parse through protobuf's log
}

grpc::ServerUnaryReactor* OtlpMetricsService::Export(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  auto refuse = [context](const absl::Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  };
  absl::StatusOr<std::string> caller =
      deps_.ingest.guard->Admit(*context, security::Scope::kIngest);
  if (!caller.ok()) {
    deps_.metrics->ExportAnswered(static_cast<grpc::StatusCode>(caller.status().code()),
                                  absl::ZeroDuration());
    return refuse(caller.status());
  }
  if (const absl::Duration debt = deps_.ingest.rate->Debt(*caller); debt > kMaxDebtAtExport) {
    deps_.metrics->ExportAnswered(grpc::StatusCode::UNAVAILABLE, absl::ZeroDuration());
    return refuse(Unavailable(
        context, debt,
        absl::StrCat("caller ", *caller, " is over its event rate limit on this instance")));
  }
  security::CallerSlots::Slot slot;
  if (absl::Status s = deps_.exports->Acquire(*caller, &slot); !s.ok()) {
    deps_.metrics->ExportAnswered(grpc::StatusCode::UNAVAILABLE, absl::ZeroDuration());
    return refuse(Unavailable(context, kExportLimitRetry, s.message()));
  }
  auto call =
      std::make_shared<ExportCall>(deps_, context, response, *std::move(caller), std::move(slot));
  ExportCall* reactor = call.get();
  // The call may be answered before Start returns; gRPC runs OnDone only after this returns it.
  reactor->Start(std::move(call), *request);
  return reactor;
}

}  // namespace streammetrics::ingest::otlp
