// Shared pieces of the MetricsClient tests: valid events, client options pointing at an
// in-process ingest server, and an ack recorder for the per-ack callback.
#ifndef STREAMMETRICS_TESTS_LIB_CLIENT_CLIENT_TEST_UTIL_H_
#define STREAMMETRICS_TESTS_LIB_CLIENT_CLIENT_TEST_UTIL_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "lib/client/metrics_client.h"

namespace streammetrics::client::testing {

inline constexpr absl::Duration kWait = absl::Seconds(20);

// A valid event (value > 0) numbered `i`; `value` <= 0 makes the server dead-letter it.
inline v1::MetricEvent Event(int i, double value = 10) {
  v1::MetricEvent e;
  e.set_event_id(absl::StrCat("ev-", i));
  *e.mutable_timestamp() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  e.set_service_id("payment-service");
  e.set_instance_id("pod-1");
  e.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
  e.set_metric_name("api.request.duration");
  e.set_value(value);
  return e;
}

// Every ack the client reported, in order.
class AckLog {
 public:
  AckCallback Callback() {
    return [this](const v1::BatchAck& ack, const v1::MetricBatch& batch, absl::Time first_sent) {
      absl::MutexLock lock(&mu_);
      acks_.push_back(ack);
      batch_sizes_.push_back(batch.events_size());
      first_sent_.push_back(first_sent);
    };
  }
  std::vector<v1::BatchAck> acks() const {
    absl::MutexLock lock(&mu_);
    return acks_;
  }
  // Events in the batch each ack answered.
  std::vector<int> batch_sizes() const {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  std::vector<absl::Time> first_sent() const {
    absl::MutexLock lock(&mu_);
    return first_sent_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::BatchAck> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> first_sent_ ABSL_GUARDED_BY(mu_);
};

inline MetricsClientOptions Options(int port, AckLog* log = nullptr) {
  MetricsClientOptions o;
  o.target = absl::StrCat("127.0.0.1:", port);
  o.client_id = "client-test";
  o.first_sequence = 1;
  o.max_batch_delay = absl::Hours(1);  // tests that want the timer set it
  if (log != nullptr) o.on_ack = log->Callback();
  return o;
}

}  // namespace streammetrics::client::testing

#endif  // STREAMMETRICS_TESTS_LIB_CLIENT_CLIENT_TEST_UTIL_H_
