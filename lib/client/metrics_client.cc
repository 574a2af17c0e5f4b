#include "lib/client/metrics_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/client/client_core.h"
#include "lib/client/client_id.h"
#include "lib/common/status_macros.h"

namespace streammetrics::client {
namespace {

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 1 << 30));
}

absl::Status ValidateOptions(const MetricsClientOptions& o) {
  RETURN_IF_ERROR(ValidateClientId(o.client_id));
  if (o.channel == nullptr && o.target.empty()) {
    return absl::InvalidArgumentError("target is empty and no channel is given");
  }
  if (o.first_sequence.has_value() && *o.first_sequence == 0) {
    return absl::InvalidArgumentError("first_sequence must be >= 1");
  }
  if (o.max_batch_events == 0) return absl::InvalidArgumentError("max_batch_events must be >= 1");
  if (o.max_buffered_events == 0) {
    return absl::InvalidArgumentError("max_buffered_events must be >= 1");
  }
  if (o.max_failed_acks == 0) return absl::InvalidArgumentError("max_failed_acks must be >= 1");
  if (o.max_batch_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_batch_delay must not be negative");
  }
  if (o.initial_backoff <= absl::ZeroDuration() || o.max_backoff < o.initial_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backoff must satisfy 0 < initial_backoff <= max_backoff; got ",
        absl::FormatDuration(o.initial_backoff), " and ", absl::FormatDuration(o.max_backoff)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsClient>> MetricsClient::Create(MetricsClientOptions options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  if (options.channel == nullptr) {
    // gRPC's own reconnection backoff (1 s initial, 120 s max by default) would otherwise hold a
    // channel in TRANSIENT_FAILURE far longer than our backoff: align it.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ToMillis(options.initial_backoff));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, ToMillis(options.initial_backoff));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ToMillis(options.max_backoff));
    ASSIGN_OR_RETURN(options.channel,
                     security::MakeChannel(options.target, options.security, args));
  }
  // Wall-clock microseconds: a restarted process starts above where its predecessor was.
  const uint64_t first_sequence =
      options.first_sequence.value_or(static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())));
  const absl::Duration destructor_timeout = options.destructor_close_timeout;
  return std::unique_ptr<MetricsClient>(new MetricsClient(
      std::make_unique<ClientCore>(std::move(options), first_sequence), destructor_timeout));
}

MetricsClient::MetricsClient(std::unique_ptr<ClientCore> core,
                             absl::Duration destructor_close_timeout)
    : core_(std::move(core)), destructor_close_timeout_(destructor_close_timeout) {}

MetricsClient::~MetricsClient() { core_->Close(destructor_close_timeout_).IgnoreError(); }

absl::Status MetricsClient::Send(v1::MetricEvent event, absl::Duration timeout) {
  return core_->Send(std::move(event), timeout);
}

absl::Status MetricsClient::Flush(absl::Duration timeout) { return core_->Flush(timeout); }

absl::Status MetricsClient::Close(absl::Duration timeout) { return core_->Close(timeout); }

MetricsClient::Stats MetricsClient::stats() const { return core_->stats(); }

}  // namespace streammetrics::client
