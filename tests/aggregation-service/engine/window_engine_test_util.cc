// Helpers for the window engine's tests: see window_engine_test_util.h.
#include "tests/aggregation-service/engine/window_engine_test_util.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/events/series_key.h"
#include "streammetrics/internal/dedup.pb.h"

namespace streammetrics::aggregation::testing {
namespace {

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Floors to whole minutes by counting down from a multiple: independent of the engine's math.
absl::Time MinuteOf(absl::Time t) {
  const absl::Duration since = t - absl::UnixEpoch();
  absl::Duration floored = absl::Trunc(since, absl::Minutes(1));
  if (floored > since) floored -= absl::Minutes(1);
  return absl::UnixEpoch() + floored;
}

void ExpectQuantile(const v1::WindowAggregate& row, double estimate, double q,
                    std::vector<double> sorted) {
  std::sort(sorted.begin(), sorted.end());
  const double exact = sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
  // A bucket's representative is within the accuracy of every value in it; the tiny slack
  // covers values on a bucket boundary (DDSketch: ~1 ulp).
  EXPECT_LE(std::abs(estimate - exact), row.relative_accuracy() * std::abs(exact) * (1 + 1e-9))
      << "q=" << q << " exact=" << exact << " estimate=" << estimate << " in " << row.series_key();
}

}  // namespace

TestEvent MakeEvent(absl::Time t, double value, absl::string_view client, uint64_t sequence,
                    uint32_t index, absl::string_view service, absl::string_view metric,
                    const std::map<std::string, std::string>& tags) {
  TestEvent e;
  const int64_t seconds = absl::ToUnixSeconds(t);
  e.event.mutable_timestamp()->set_seconds(seconds);
  e.event.mutable_timestamp()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  e.event.set_event_id(absl::StrCat(client, "-", sequence, "-", index));
  e.event.set_service_id(std::string(service));
  e.event.set_instance_id("instance-1");
  e.event.set_metric_type(v1::METRIC_TYPE_CUSTOM_GAUGE);
  e.event.set_metric_name(std::string(metric));
  e.event.set_value(value);
  for (const auto& [k, v] : tags) (*e.event.mutable_tags())[k] = v;
  e.series_key = events::SeriesKey(e.event);
  e.key = events::IdempotencyKey{std::string(client), sequence, index};
  return e;
}

AddOutcome AddTo(PartitionWindows& engine, const TestEvent& e) {
  return engine.Add(e.series_key, e.event, e.key);
}

WindowId IdOf(const v1::WindowAggregate& row) {
  return {row.series_key(), row.window_size(), FromProto(row.window_start())};
}

std::map<WindowId, v1::WindowAggregate> ByWindow(const PartitionDelta& delta) {
  std::map<WindowId, v1::WindowAggregate> rows;
  for (const v1::WindowAggregate& row : delta.windows) {
    EXPECT_TRUE(rows.emplace(IdOf(row), row).second) << "twice in one delta: " << row.series_key();
  }
  return rows;
}

std::set<Key> DecodeChunk(const std::string& bytes) {
  internal::DedupChunk chunk;
  EXPECT_TRUE(chunk.ParseFromString(bytes));
  std::set<Key> keys;
  std::set<std::string> clients;
  for (const internal::ClientKeys& client : chunk.clients()) {
    EXPECT_TRUE(clients.insert(client.client_id()).second) << client.client_id();
    std::set<uint64_t> sequences;
    for (const internal::BatchKeys& batch : client.batches()) {
      EXPECT_TRUE(sequences.insert(batch.sequence()).second) << batch.sequence();
      EXPECT_TRUE(std::is_sorted(batch.event_indexes().begin(), batch.event_indexes().end()));
      EXPECT_EQ(std::adjacent_find(batch.event_indexes().begin(), batch.event_indexes().end()),
                batch.event_indexes().end());
      for (uint32_t index : batch.event_indexes()) {
        keys.emplace(client.client_id(), batch.sequence(), index);
      }
    }
  }
  return keys;
}

void FakeStore::Apply(const PartitionDelta& delta) {
  for (const v1::WindowAggregate& row : delta.windows) {
    auto [it, added] = rows_.try_emplace(IdOf(row), row);
    if (added) {
      EXPECT_EQ(row.revision(), 1u) << "first row of " << row.series_key();
      continue;
    }
    EXPECT_FALSE(it->second.is_final()) << "row after a final one: " << row.series_key();
    EXPECT_EQ(row.revision(), it->second.revision() + 1) << row.series_key();
    it->second = row;
  }
  std::set<absl::Time> starts;
  for (const DedupChunk& chunk : delta.dedup_added) {
    EXPECT_TRUE(starts.insert(chunk.window_start).second) << "two chunks of one window";
    chunks_[chunk.window_start].push_back(chunk.keys);
  }
  chunks_.erase(chunks_.begin(), chunks_.lower_bound(delta.dedup_release_before));
  EXPECT_GE(delta.watermark, watermark_) << "the watermark moved back";
  watermark_ = delta.watermark;
}

PartitionSnapshot FakeStore::Snapshot() const {
  PartitionSnapshot snapshot;
  snapshot.watermark = watermark_;
  const absl::Time five_floor =
      watermark_ == absl::InfinitePast()
          ? watermark_
          : absl::UnixEpoch() + absl::Floor(watermark_ - absl::UnixEpoch(), absl::Minutes(5));
  for (const auto& [id, row] : rows_) {
    const bool minute = row.window_size() == v1::WINDOW_SIZE_1M;
    if (!row.is_final() || (minute && FromProto(row.window_start()) >= five_floor)) {
      snapshot.windows.push_back(row);
    }
  }
  for (const auto& [start, list] : chunks_) {
    for (const std::string& keys : list) snapshot.dedup.push_back(DedupChunk{start, keys});
  }
  return snapshot;
}

std::map<absl::Time, std::set<Key>> FakeStore::Keys() const {
  std::map<absl::Time, std::set<Key>> keys;
  for (const auto& [start, list] : chunks_) {
    for (const std::string& bytes : list) keys[start].merge(DecodeChunk(bytes));
  }
  return keys;
}

AddOutcome ReferenceModel::Add(const TestEvent& e) {
  const absl::Time t = FromProto(e.event.timestamp());
  newest_ = std::max(newest_, t);
  const absl::Time minute = MinuteOf(t);
  if (minute + absl::Minutes(1) <= watermark_) return AddOutcome::kLate;
  if (!keys_[minute].emplace(e.key.client_id, e.key.sequence, e.key.event_index).second) {
    return AddOutcome::kDuplicate;
  }
  values_[{e.series_key, minute}].push_back(e.event.value());
  return AddOutcome::kCounted;
}

void ReferenceModel::Advance(absl::Time now, bool idle) {
  const absl::Time to = (idle ? now : std::min(newest_, now)) - lateness_;
  watermark_ = std::max(watermark_, to);
}

const std::vector<double>& ReferenceModel::Values(const std::string& series_key,
                                                  absl::Time minute) const {
  static const std::vector<double>* const kNone = new std::vector<double>();
  auto it = values_.find({series_key, minute});
  return it == values_.end() ? *kNone : it->second;
}

std::vector<std::pair<std::string, absl::Time>> ReferenceModel::Windows() const {
  std::vector<std::pair<std::string, absl::Time>> windows;
  for (const auto& [window, unused] : values_) windows.push_back(window);
  return windows;
}

std::vector<Step> RandomWorkload(uint64_t seed, int steps, int series) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick_series(0, series - 1);
  std::uniform_int_distribution<int> batch_size(1, 30);
  std::uniform_int_distribution<int64_t> age_ms(0, 45'000);
  std::lognormal_distribution<double> magnitude(3.0, 1.5);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<Step> workload;
  std::vector<std::vector<TestEvent>> sent;
  uint64_t sequence[4] = {0, 0, 0, 0};
  absl::Time now = kT0 + absl::Seconds(10);
  for (int i = 0; i < steps; ++i) {
    Step step;
    if (unit(rng) < 0.08) {
      // Traffic stops for a while: the caller declares the partition idle.
      now += absl::Seconds(40 + static_cast<int64_t>(unit(rng) * 90));
      step.now = now;
      step.idle = true;
      workload.push_back(std::move(step));
      continue;
    }
    now += absl::Milliseconds(3000 + static_cast<int64_t>(unit(rng) * 6000));
    step.now = now;
    for (int b = static_cast<int>(unit(rng) * 3) + 1; b > 0; --b) {
      const int client = static_cast<int>(unit(rng) * 4);
      const uint64_t seq = ++sequence[client];
      std::vector<TestEvent> batch;
      for (int e = batch_size(rng); e > 0; --e) {
        const int s = pick_series(rng);
        const double r = unit(rng);
        const double value = r < 0.1 ? 0.0 : (r < 0.35 ? -magnitude(rng) : magnitude(rng));
        // The step's first event is its newest (see the header).
        const bool first = step.events.empty() && batch.empty();
        const absl::Time t = first ? now : now - absl::Milliseconds(age_ms(rng));
        batch.push_back(MakeEvent(t, value, absl::StrCat("client-", client), seq,
                                  static_cast<uint32_t>(batch.size()), "svc",
                                  absl::StrCat("metric-", s % 7),
                                  {{"host", absl::StrCat("h", s)}, {"region", "eu"}}));
      }
      step.events.insert(step.events.end(), batch.begin(), batch.end());
      sent.push_back(std::move(batch));
    }
    if (!sent.empty() && unit(rng) < 0.3) {
      // A client resends a batch whose ack it did not see: all of it, or its tail.
      std::uniform_int_distribution<size_t> pick(sent.size() > 6 ? sent.size() - 6 : 0,
                                                 sent.size() - 1);
      const std::vector<TestEvent>& again = sent[pick(rng)];
      const size_t from = unit(rng) < 0.5 ? 0 : again.size() / 2;
      step.events.insert(step.events.end(), again.begin() + static_cast<std::ptrdiff_t>(from),
                         again.end());
    }
    workload.push_back(std::move(step));
  }
  return workload;
}

void ExpectNumbers(const v1::WindowAggregate& row, const std::vector<double>& values) {
  ASSERT_FALSE(values.empty()) << "stored a window the model has no value for: "
                               << row.series_key();
  double sum = 0;
  for (double v : values) sum += v;
  EXPECT_EQ(row.count(), values.size());
  EXPECT_EQ(row.sum(), sum);
  EXPECT_EQ(row.avg(), sum / static_cast<double>(values.size()));
  EXPECT_EQ(row.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(row.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_EQ(row.relative_accuracy(), 0.01);
  ExpectQuantile(row, row.p50(), 0.50, values);
  ExpectQuantile(row, row.p95(), 0.95, values);
  ExpectQuantile(row, row.p99(), 0.99, values);
}

void ExpectFiveNumbers(const v1::WindowAggregate& row,
                       const std::vector<std::vector<double>>& minutes) {
  std::vector<double> all;
  double sum = 0;
  for (const std::vector<double>& minute : minutes) {
    double minute_sum = 0;
    for (double v : minute) minute_sum += v;
    if (!minute.empty()) sum += minute_sum;
    all.insert(all.end(), minute.begin(), minute.end());
  }
  ASSERT_FALSE(all.empty()) << "stored a 5m window the model has no value for";
  EXPECT_EQ(row.count(), all.size());
  EXPECT_EQ(row.sum(), sum);
  EXPECT_EQ(row.avg(), sum / static_cast<double>(all.size()));
  EXPECT_EQ(row.min(), *std::min_element(all.begin(), all.end()));
  EXPECT_EQ(row.max(), *std::max_element(all.begin(), all.end()));
  ExpectQuantile(row, row.p50(), 0.50, all);
  ExpectQuantile(row, row.p95(), 0.95, all);
  ExpectQuantile(row, row.p99(), 0.99, all);
}

void ExpectRowMatches(const v1::WindowAggregate& row, const ReferenceModel& model,
                      absl::Time watermark) {
  const auto& [key, size, start] = IdOf(row);
  const absl::Time end = FromProto(row.window_end());
  EXPECT_EQ(row.is_final(), end <= watermark) << key << " " << start;
  if (size == v1::WINDOW_SIZE_1M) {
    EXPECT_EQ(end, start + absl::Minutes(1));
    ExpectNumbers(row, model.Values(key, start));
    return;
  }
  EXPECT_EQ(end, start + absl::Minutes(5));
  std::vector<std::vector<double>> minutes;
  for (int i = 0; i < 5; ++i) minutes.push_back(model.Values(key, start + absl::Minutes(i)));
  ExpectFiveNumbers(row, minutes);
}

void ExpectStoreMatches(const FakeStore& store, const ReferenceModel& model) {
  for (const auto& [id, row] : store.rows()) ExpectRowMatches(row, model, store.watermark());
  for (const auto& [key, minute] : model.Windows()) {
    EXPECT_TRUE(store.rows().contains({key, v1::WINDOW_SIZE_1M, minute})) << key << " " << minute;
    const absl::Time five =
        absl::UnixEpoch() + absl::Floor(minute - absl::UnixEpoch(), absl::Minutes(5));
    EXPECT_TRUE(store.rows().contains({key, v1::WINDOW_SIZE_5M, five})) << key << " " << five;
  }
}

}  // namespace streammetrics::aggregation::testing
