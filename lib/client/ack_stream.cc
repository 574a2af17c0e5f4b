#include "lib/client/ack_stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"

namespace streammetrics::client {

AckStream::AckStream(v1::IngestService::StubInterface* stub, Listener* listener,
                     const security::ClientSecurityConfig* security)
    : stub_(stub), security_(security), listener_(listener) {}

void AckStream::Start() {
  security::AddCallCredentials(*security_, &context_);
  stub_->async()->IngestStream(&context_, this);
  // Writes come from the owner's threads, outside reactions: the hold keeps the call from
  // completing under them.
  AddHold();
  StartRead(&ack_);
  StartCall();
}

bool AckStream::Write(std::shared_ptr<const v1::MetricBatch> batch) {
  const v1::MetricBatch* message = batch.get();
  {
    absl::MutexLock lock(&mu_);
    if (!writes_open_ || writing_ != nullptr) return false;
    writing_ = std::move(batch);
  }
  StartWrite(message);  // `writing_` keeps the message alive until OnWriteDone
  return true;
}

void AckStream::FinishWrites() {
  {
    absl::MutexLock lock(&mu_);
    if (!writes_open_) return;
    writes_open_ = false;
    writes_done_wanted_ = true;
    if (writing_ != nullptr) return;  // OnWriteDone half-closes
    hold_released_ = true;
  }
  StartWritesDone();
  RemoveHold();
}

void AckStream::Cancel() { context_.TryCancel(); }

void AckStream::OnReadDone(bool ok) {
  if (ok) {
    listener_->OnAck(ack_);
    StartRead(&ack_);
    return;
  }
  // The server finished the call or it broke: nothing more will be read, so no more writes.
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    writes_open_ = false;
    writes_done_wanted_ = false;
    if (writing_ == nullptr && !hold_released_) release = hold_released_ = true;
  }
  if (release) RemoveHold();
}

void AckStream::OnWriteDone(bool ok) {
  bool release = false;
  bool writes_done = false;
  std::shared_ptr<const v1::MetricBatch> written;
  {
    absl::MutexLock lock(&mu_);
    written = std::move(writing_);
    writing_ = nullptr;
    if (!ok) {
      writes_open_ = false;
      writes_done_wanted_ = false;
    }
    if (!writes_open_ && !hold_released_) {
      release = hold_released_ = true;
      writes_done = writes_done_wanted_;
    }
  }
  // Tell the owner before letting the call complete, so OnWriteDone precedes OnStreamDone.
  listener_->OnWriteDone(ok);
  if (writes_done) StartWritesDone();
  if (release) RemoveHold();
}

void AckStream::OnDone(const grpc::Status& status) {
  absl::Duration retry_after;
  const auto& trailers = context_.GetServerTrailingMetadata();
  if (auto it = trailers.find("streammetrics-retry-after-ms"); it != trailers.end()) {
    int64_t ms = 0;
    // At most a minute: a server cannot park a client for longer by mistake or malice.
    if (absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &ms) && ms > 0) {
      retry_after = absl::Milliseconds(std::min<int64_t>(ms, 60'000));
    }
  }
  listener_->OnStreamDone(status, retry_after);
}

}  // namespace streammetrics::client
