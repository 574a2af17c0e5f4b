// Builders of valid and invalid events and batches for ingest tests.
#ifndef STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_EVENTS_H_
#define STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_EVENTS_H_

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::ingest::testing {

inline v1::MetricEvent ValidEvent(absl::Time at, int i, double value = 10) {
  v1::MetricEvent e;
  e.set_event_id(absl::StrCat("ev-", i));
  *e.mutable_timestamp() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(at));
  e.set_service_id("payment-service");
  e.set_instance_id("pod-1");
  e.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
  e.set_metric_name("api.request.duration");
  e.set_value(value);
  e.set_unit("ms");
  (*e.mutable_tags())["endpoint"] = absl::StrCat("/e", i % 3);
  return e;
}

// A batch of `n` valid events; the events at `nan_at` (if >= 0) get a NaN value.
inline v1::MetricBatch Batch(absl::Time at, uint64_t sequence, int n, int nan_at = -1,
                             const std::string& client = "client-a") {
  v1::MetricBatch b;
  b.set_client_id(client);
  b.set_sequence(sequence);
  for (int i = 0; i < n; ++i) {
    *b.add_events() = ValidEvent(at, i, i == nan_at ? std::nan("") : 10.0 + i);
  }
  return b;
}

}  // namespace streammetrics::ingest::testing

#endif  // STREAMMETRICS_TESTS_INGEST_SERVICE_TEST_EVENTS_H_
