// AggregationDataSet, AggregatorChild: see the header.
#include "tests/integration/aggregation_harness.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/series_key.h"
#include "lib/kafka/kafka_config.h"
#include "streammetrics/v1/metric_event.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {
namespace {

constexpr int kBatch = 500;

// Rows of a query, as text; empty on error (with the error in `error`).
std::vector<std::vector<std::string>> Query(const std::string& sql,
                                            const std::vector<std::string>& params,
                                            std::string* error) {
  std::vector<std::vector<std::string>> rows;
  PGconn* conn = PQconnectdb(PostgresUrl().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = PQerrorMessage(conn);
    PQfinish(conn);
    return rows;
  }
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* res = PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    *error = PQresultErrorMessage(res);
  } else {
    for (int r = 0; r < PQntuples(res); ++r) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(res); ++c) row.push_back(PQgetvalue(res, r, c));
      rows.push_back(std::move(row));
    }
  }
  PQclear(res);
  PQfinish(conn);
  return rows;
}

double ExactQuantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
}

}  // namespace

AggregationDataSet::AggregationDataSet(int events, int series, absl::Duration span,
                                       int resend_every, absl::Duration age)
    : service_id_(absl::StrCat("it-agg-", getpid(), "-", absl::ToUnixMicros(absl::Now()))),
      resend_every_(resend_every) {
  const absl::Time t0 = aggregation::WindowStart(absl::Now() - age, absl::Minutes(5));
  events_.reserve(events);
  for (int i = 0; i < events; ++i) {
    v1::MetricEvent e;
    e.set_event_id(absl::StrCat("e", i));
    const absl::Time at = t0 + span * (static_cast<double>(i) / events);
    *e.mutable_timestamp() = aggregation::TimeToProto(at);
    e.set_service_id(service_id_);
    e.set_instance_id("pod-1");
    e.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
    e.set_metric_name(absl::StrCat("m", i % 4));
    (*e.mutable_tags())["endpoint"] = absl::StrCat("/e", (i / 4) % std::max(1, series / 4));
    // Log-normal-ish, positive, deterministic.
    const double value = std::exp(3 + 2 * std::sin(i * 12.9898) * std::cos(i * 78.233));
    e.set_value(value);
    Event ev{events::SeriesKey(e),
             at,
             value,
             static_cast<uint64_t>(i / kBatch + 1),
             static_cast<uint32_t>(i % kBatch),
             e.SerializeAsString()};
    values_.push_back(value);
    const int64_t m1 = absl::ToUnixSeconds(aggregation::WindowStart(at, absl::Minutes(1)));
    const int64_t m5 = absl::ToUnixSeconds(aggregation::WindowStart(at, absl::Minutes(5)));
    truth_[{ev.series_key, "1m", m1}].push_back(value);
    truth_[{ev.series_key, "5m", m5}].push_back(value);
    events_.push_back(std::move(ev));
  }
  const int batches = (events + kBatch - 1) / kBatch;
  records_ = events;
  for (int b = 1; b <= batches; ++b) {
    if (resend_every_ > 0 && b % resend_every_ == 0) {
      records_ += std::min(kBatch, events - (b - 1) * kBatch);
    }
  }
}

absl::Status AggregationDataSet::Produce(const std::string& topic, int prefix_junk) const {
  kafka::Properties props = kafka::ZeroLossProducerProperties(KafkaBootstrap());
  props.push_back({"linger.ms", "5"});
  std::atomic<int> failures{0};
  auto conf = kafka::MakeConf(props);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), &failures);
  rd_kafka_conf_set_dr_msg_cb(conf->get(),
                              [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
                                if (m->err) static_cast<std::atomic<int>*>(opaque)->fetch_add(1);
                              });
  auto rk = kafka::MakeClient(RD_KAFKA_PRODUCER, *std::move(conf));
  if (!rk.ok()) return rk.status();
  auto send = [&](const std::string& key, const std::string& value, const events::Headers& h) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(h.size());
    for (const auto& [k, v] : h)
      rd_kafka_header_add(headers, k.data(), k.size(), v.data(), v.size());
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk->get(), 100);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    return err;
  };
  for (int j = 0; j < prefix_junk; ++j) {
    if (send(absl::StrCat("junk-", j), "\xff\xfe not a protobuf", {})) {
      return absl::InternalError("produce failed");
    }
  }
  const int n = static_cast<int>(events_.size());
  for (int start = 0; start < n; start += kBatch) {
    const int end = std::min(n, start + kBatch);
    const int copies = resend_every_ > 0 && (start / kBatch + 1) % resend_every_ == 0 ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      for (int i = start; i < end; ++i) {
        const Event& e = events_[i];
        if (send(e.series_key, e.serialized,
                 events::EncodeHeaders({"it-client", e.sequence, e.index},
                                       events::kContentTypeMetricEvent))) {
          return absl::InternalError("produce failed");
        }
      }
    }
    rd_kafka_poll(rk->get(), 0);
  }
  if (rd_kafka_flush(rk->get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::DeadlineExceededError("flush did not finish in 60 s");
  }
  if (failures.load() > 0) {
    return absl::InternalError(absl::StrCat(failures.load(), " records failed delivery"));
  }
  return absl::OkStatus();
}

int AggregationDataSet::ExpectedWindows() const { return static_cast<int>(truth_.size()); }

int AggregationDataSet::FinalRows() const {
  std::string error;
  auto rows =
      Query("SELECT count(*) FROM metrics.metric_aggregates WHERE service_id = $1 AND is_final",
            {service_id_}, &error);
  return rows.empty() ? -1 : std::stoi(rows[0][0]);
}

std::vector<std::string> AggregationDataSet::Verify() const {
  std::vector<std::string> diffs;
  std::string error;
  auto rows = Query(
      "SELECT series_key, window_size, extract(epoch FROM timestamp)::bigint, count, sum, min, "
      "max, p50, p95, p99, is_final FROM metrics.metric_aggregates WHERE service_id = $1",
      {service_id_}, &error);
  if (!error.empty()) return {error};
  std::map<std::tuple<std::string, std::string, int64_t>, const std::vector<std::string>*> seen;
  for (const auto& row : rows) seen[{row[0], row[1], std::stoll(row[2])}] = &row;
  for (const auto& [key, values] : truth_) {
    const std::string name =
        absl::StrCat(std::get<0>(key), " ", std::get<1>(key), " ", std::get<2>(key));
    auto it = seen.find(key);
    if (it == seen.end()) {
      diffs.push_back(absl::StrCat(name, ": missing"));
      continue;
    }
    const std::vector<std::string>& row = *it->second;
    double sum = 0;
    for (double v : values) sum += v;
    const double min = *std::min_element(values.begin(), values.end());
    const double max = *std::max_element(values.begin(), values.end());
    if (std::stoull(row[3]) != values.size()) {
      diffs.push_back(absl::StrCat(name, ": count ", row[3], " != ", values.size()));
    }
    if (std::abs(std::stod(row[4]) - sum) > 1e-9 * std::abs(sum)) {
      diffs.push_back(absl::StrCat(name, ": sum ", row[4], " != ", sum));
    }
    if (std::stod(row[5]) != min || std::stod(row[6]) != max) {
      diffs.push_back(absl::StrCat(name, ": min/max ", row[5], "/", row[6], " != ", min, "/", max));
    }
    const double qs[] = {0.5, 0.95, 0.99};
    for (int q = 0; q < 3; ++q) {
      const double exact = ExactQuantile(values, qs[q]);
      const double got = std::stod(row[7 + q]);
      if (std::abs(got - exact) > 0.01 * std::abs(exact) + 1e-12) {
        diffs.push_back(
            absl::StrCat(name, ": p", qs[q] * 100, " ", got, " not within 1% of ", exact));
      }
    }
    if (row[10] != "t") diffs.push_back(absl::StrCat(name, ": not final"));
  }
  if (seen.size() != truth_.size()) {
    diffs.push_back(absl::StrCat(seen.size(), " rows stored, ", truth_.size(), " expected"));
  }
  return diffs;
}

AggregatorChild::AggregatorChild(const std::string& events_topic, const std::string& group,
                                 const std::vector<std::string>& extra_flags)
    : query_address_(absl::StrCat("127.0.0.1:", FreePort())),
      metrics_address_(absl::StrCat("127.0.0.1:", FreePort())) {
  std::vector<std::string> args = {
      STREAMMETRICS_AGGREGATION_BIN, "--query_address=" + query_address_,
      "--aggregation_metrics_address=" + metrics_address_, "--kafka_bootstrap=" + KafkaBootstrap(),
      "--pg_url=" + PostgresUrl(), "--events_topic=" + events_topic, "--consumer_group=" + group,
      "--checkpoint_interval=200ms",
      // Tests share one database and write windows at fixed dates (2027-01-15): no instance may
      // purge or refuse them as they age. Retention has tests of its own, in a database each.
      "--retention_1m=inf", "--retention_5m=inf"};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  pid_ = Spawn(args);
}

AggregatorChild::~AggregatorChild() {
  if (pid_ > 0) Stop(SIGKILL);
}

int AggregatorChild::Stop(int signal) {
  if (pid_ <= 0) return -1;
  const int code = StopChild(pid_, signal);
  pid_ = -1;
  return code;
}

int64_t CommittedRecords(const std::string& group) {
  std::string error;
  auto rows = Query(
      "SELECT coalesce(sum(next_offset), 0) FROM metrics.consumer_offsets "
      "WHERE consumer_group = $1",
      {group}, &error);
  return rows.empty() ? -1 : std::stoll(rows[0][0]);
}

}  // namespace streammetrics::testing
