// Report: number formatting, the progress line, the tables' verdicts, and JSON that parses.
#include "tools/loadgen/report.h"

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace streammetrics::loadgen {
namespace {

using ::testing::HasSubstr;

TEST(ReportTest, ThousandsSeparators) {
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Thousands(1000), "1,000");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(18446744073709551615ull), "18,446,744,073,709,551,615");
}

TEST(ReportTest, ProgressLineShowsRatesInFlightAndLatency) {
  Progress p{.elapsed = absl::Seconds(12),
             .sent = 120000,
             .acked = 119500,
             .sent_per_s = 10012,
             .acked_per_s = 9987.6,
             .p99_ms = 45.14,
             .rejected = 3};
  EXPECT_EQ(ProgressLine(p),
            "t=  12s  sent 120,000 (10,012/s)  acked 119,500 (9,987/s)  in flight 500  "
            "p99 ack 45.1 ms  rejected 3");
}

RunSummary Summary() {
  RunSummary s;
  s.run_id = "lg-\"1\"";
  s.target_rate = 5000;
  s.streams = 2;
  s.batch_size = 500;
  s.series = 60;
  s.values = "constant:1";
  s.totals.elapsed = absl::Seconds(10);
  s.totals.events_sent = 50000;
  s.totals.cpu_time = absl::Milliseconds(150);
  s.counts.events_accepted = 49500;
  s.counts.events_rejected_as_expected = 500;
  s.p99_ms = 12.34;
  return s;
}

TEST(ReportTest, RunTableHasOneRowPerNumber) {
  const std::string t = RunTable(Summary());
  EXPECT_THAT(t, HasSubstr("| target rate (events/s)"));
  EXPECT_THAT(t, HasSubstr("5,000 |"));
  EXPECT_THAT(t, HasSubstr("49,500 |"));
  EXPECT_THAT(t, HasSubstr("| sent rate (events/s)"));
  EXPECT_THAT(t, HasSubstr("12.3 /"));
  EXPECT_THAT(t, HasSubstr("| loadgen CPU (s, µs per event)"));
  EXPECT_THAT(t, HasSubstr("0.15, 3.00 |"));
  RunSummary unpaced = Summary();
  unpaced.target_rate = 0;
  EXPECT_THAT(RunTable(unpaced), HasSubstr("unpaced |"));
}

TEST(ReportTest, VerifyTableSaysPassOrFailAndListsDifferences) {
  VerifyReport pass;
  pass.windows_expected = 2;
  pass.windows_equal = 2;
  EXPECT_THAT(VerifyTable(pass), HasSubstr("PASS"));
  VerifyReport fail;
  fail.windows_expected = 2;
  fail.windows_equal = 1;
  fail.windows_different = 1;
  fail.differences.push_back(WindowDifference{.kind = WindowDifference::Kind::kCountOrSum,
                                              .series_key = "svc|m|",
                                              .size = v1::WINDOW_SIZE_5M,
                                              .start = absl::FromUnixSeconds(0),
                                              .expected = {.count = 3, .sum = 6},
                                              .observed = {.count = 4, .sum = 7}});
  const std::string t = VerifyTable(fail);
  EXPECT_THAT(t, HasSubstr("FAIL"));
  EXPECT_THAT(t, HasSubstr("different 5m 1970-01-01T00:00:00Z svc|m|  acked count 3 sum 6, "
                           "pipeline count 4 sum 7"));
}

TEST(ReportTest, JsonParsesAndCarriesTheNumbers) {
  RunSummary s = Summary();
  s.latency_cdf = {{0.5, 3.0}, {1.0, 9.5}};
  s.verify = VerifyReport();
  s.verify->windows_expected = 2;
  s.verify->windows_equal = 2;
  s.verify->events_expected = 9;
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReportJson(s), &parsed).ok())
      << ReportJson(s);
  const auto& f = parsed.fields();
  EXPECT_EQ(f.at("run_id").string_value(), "lg-\"1\"");
  EXPECT_EQ(f.at("events_accepted").number_value(), 49500);
  EXPECT_EQ(f.at("cpu_seconds").number_value(), 0.15);
  EXPECT_EQ(f.at("ack_ms").struct_value().fields().at("p99").number_value(), 12.34);
  EXPECT_TRUE(f.at("verify").struct_value().fields().at("passed").bool_value());
  const auto& cdf = f.at("ack_ms_cdf").list_value();
  ASSERT_EQ(cdf.values_size(), 2);
  EXPECT_EQ(cdf.values(1).list_value().values(0).number_value(), 1.0);
  EXPECT_EQ(cdf.values(1).list_value().values(1).number_value(), 9.5);
  EXPECT_EQ(f.at("verify").struct_value().fields().at("events_expected").number_value(), 9);
  s.verify.reset();
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReportJson(s), &parsed).ok());
  EXPECT_EQ(parsed.fields().count("verify"), 0u);
}

}  // namespace
}  // namespace streammetrics::loadgen
