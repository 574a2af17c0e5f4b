// Tests of FakeEventSource, the in-memory EventSource of the aggregator's unit tests: that it
// delivers like the Kafka source (batches, max_records, offset order, headers as written), so the
// aggregator tests exercise the batch path they run on in production.
#include "aggregation-service/consume/fake_event_source.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::aggregation {
namespace {

// Accepts every assignment from the beginning.
class FromTheStart final : public RebalanceListener {
 public:
  std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& p) override {
    return std::vector<std::optional<int64_t>>(p.size());
  }
  void OnRevoked(const std::vector<int32_t>&) override {}
};

struct Seen {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::optional<std::string> last_h;
  size_t headers;
};

TEST(FakeEventSourceTest, DeliversAtMostMaxRecordsInBatchesWithTheirHeaders) {
  FromTheStart listener;
  FakeEventSource source(&listener);
  for (int i = 0; i < 2500; ++i) {
    source.Append(i % 2, {absl::StrCat("k", i), "v", {{"h", "first"}, {"h", absl::StrCat(i)}}});
  }
  source.Assign({0, 1});
  std::vector<Seen> seen;
  size_t calls = 0;
  auto collect = [&](absl::Span<const SourceRecord> records) {
    ++calls;
    for (const SourceRecord& r : records) {
      std::optional<absl::string_view> h = r.Header("h");
      seen.push_back({r.partition, r.offset, std::string(r.key),
                      h ? std::optional<std::string>(*h) : std::nullopt, r.headers.size()});
    }
  };
  ASSERT_TRUE(source.Poll(absl::ZeroDuration(), 2000, collect).ok());
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_GT(calls, 1u);  // more than one batch's worth
  // Partition 0 first (1,250 records), in offset order, then partition 1.
  for (size_t i = 0; i < seen.size(); ++i) {
    const int32_t partition = i < 1250 ? 0 : 1;
    const int64_t offset = i < 1250 ? static_cast<int64_t>(i) : static_cast<int64_t>(i - 1250);
    const int appended = static_cast<int>(offset * 2 + partition);
    ASSERT_EQ(seen[i].partition, partition) << i;
    ASSERT_EQ(seen[i].offset, offset) << i;
    ASSERT_EQ(seen[i].key, absl::StrCat("k", appended)) << i;
    ASSERT_EQ(seen[i].last_h, absl::StrCat(appended)) << i;
    ASSERT_EQ(seen[i].headers, 2u) << i;
  }
  EXPECT_EQ(source.position(1), 750);

  seen.clear();
  ASSERT_TRUE(source.Poll(absl::ZeroDuration(), 2000, collect).ok());
  ASSERT_EQ(seen.size(), 500u);
  EXPECT_EQ(seen.front().offset, 750);
  EXPECT_EQ(seen.back().offset, 1249);
  EXPECT_EQ(seen.front().last_h, "1501");
}

TEST(FakeEventSourceTest, HeaderIsNulloptWhenAbsent) {
  SourceRecord r;
  const RecordHeader hs[] = {{"a", "1"}};
  r.headers = hs;
  EXPECT_EQ(r.Header("a"), "1");
  EXPECT_EQ(r.Header("b"), std::nullopt);
}

}  // namespace
}  // namespace streammetrics::aggregation
