// OtlpMetricsService (contract in otlp_service.h).
#include "ingest-service/otlp/otlp_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/proto_buffer_reader.h"
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
  const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(retry));
  context->AddTrailingMetadata(kRetryAfterTrailer, std::to_string(ms));
  return absl::UnavailableError(absl::StrCat(message, "; retry in ", ms, " ms"));
}

absl::Status ParseExport(const grpc::ByteBuffer& bytes, ExportRequest* request) {
  ProtobufLogCapture capture;    // protobuf names a field with invalid UTF-8 only in its log
  grpc::ByteBuffer copy(bytes);  // the reader consumes; slices are shared, not copied
  grpc::ProtoBufferReader reader(&copy);
  if (reader.status().ok() && request->ParseFromZeroCopyStream(&reader)) {
    return absl::OkStatus();
  }
  std::string why(absl::StripAsciiWhitespace(capture.message()));
  if (why.empty()) why = "truncated, a wrong wire type, or not protobuf";
  return absl::InvalidArgumentError(
      absl::StrCat("the ExportMetricsServiceRequest does not parse: ", why, "; fix the exporter"));
}

// One export from admission to answer. Owned by shared_ptrs: the call's own until it hands the
// records to the sink, then the delivery callback's (or the budget waiter's weak one). The
// export slot is released just before the answer is sent.
class ExportCall : public std::enable_shared_from_this<ExportCall> {
 public:
  ExportCall(const OtlpDeps& deps, grpc::CallbackServerContext* context, grpc::ByteBuffer* response,
             std::string caller, security::CallerSlots::Slot slot)
      : deps_(deps),
        context_(context),
        reactor_(context->DefaultReactor()),
        response_(response),
        caller_(std::move(caller)),
        slot_(std::move(slot)),
        received_(deps.ingest.clock->Now()) {}

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

  void Run(const grpc::ByteBuffer& bytes) {
    // Parsed onto an arena: an export of 500 points is thousands of small messages (attributes,
    // values), which the arena allocates by bumping a pointer and frees in a few blocks.
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = 16 << 10;
    arena_options.max_block_size = 256 << 10;
    google::protobuf::Arena arena(arena_options);
    ExportRequest& request = *google::protobuf::Arena::CreateMessage<ExportRequest>(&arena);
    if (absl::Status parsed = ParseExport(bytes, &request); !parsed.ok()) {
      return Answer(parsed, nullptr);
    }
    const size_t points = CountDataPoints(request);
    if (points > deps_.max_points_per_export) {
      return Answer(absl::InvalidArgumentError(absl::StrCat(
                        "the export holds ", points, " data points; the limit is ",
                        deps_.max_points_per_export,
                        " per export: lower the exporter's batch size (e.g. the Collector's "
                        "send_batch_max_size)")),
                    nullptr);
    }
    if (deps_.ingest.rate->enabled()) {
      deps_.ingest.rate->Reserve(caller_, static_cast<double>(points));
    }
    deps_.ingest.metrics->ForCaller(caller_).events->Increment(static_cast<double>(points));
    MappedExport mapped = MapExport(request, deps_.tracker);
    points_ = mapped.points;
    prepared_ = PrepareExport(mapped, deps_.ingest.limits, deps_.ingest.topics, caller_,
                              deps_.ingest.clock->Now());
    deps_.metrics->Points(mapped, prepared_.records.size() - prepared_.rejections.size(),
                          prepared_.rejections.size());
    for (const v1::Rejection& r : prepared_.rejections) {
      deps_.ingest.metrics->EventRejected(r.reason());
    }
    if (prepared_.records.empty()) return Answer(absl::OkStatus(), nullptr);
    if (!deps_.ingest.budget->HasRoom()) {
      // The waiter holds a weak pointer (waiters are never unregistered); parked_self_ keeps the
      // call alive until it runs. Set first: the waiter may run on another thread at once.
      parked_self_ = shared_from_this();
      std::weak_ptr<ExportCall> weak = weak_from_this();
      if (deps_.ingest.budget->CallWhenRoom([weak] {
            if (auto self = weak.lock()) self->Send();
          })) {
        return;
      }
    }
    Send();
  }

 private:
  void Send() {
    std::shared_ptr<ExportCall> self = shared_from_this();
    parked_self_.reset();
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

  void Answer(const absl::Status& status, const ExportResponse* response) {
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
    reactor_->Finish(answer);
  }

  const OtlpDeps& deps_;
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  grpc::ByteBuffer* const response_;  // owned by gRPC, valid until the call is done
  const std::string caller_;
  security::CallerSlots::Slot slot_;
  const absl::Time received_;
  absl::Time sent_at_;
  size_t points_ = 0;
  PreparedExport prepared_;
  std::shared_ptr<ExportCall> parked_self_;
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
  grpc::ServerUnaryReactor* reactor = call->reactor();
  call->Run(*request);
  return reactor;
}

}  // namespace streammetrics::ingest::otlp
