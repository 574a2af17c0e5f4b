// Tests of window arithmetic: lengths and names of window sizes, epoch-aligned window starts
// (edges, nanoseconds, times before 1970) and Timestamp conversions.
#include "aggregation-service/engine/window_math.h"

#include <cstdint>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;

TEST(WindowLengthTest, OneAndFiveMinutesNothingElse) {
  EXPECT_EQ(WindowLength(v1::WINDOW_SIZE_1M), absl::Seconds(60));
  EXPECT_EQ(WindowLength(v1::WINDOW_SIZE_5M), absl::Seconds(300));
  EXPECT_EQ(WindowLength(v1::WINDOW_SIZE_UNSPECIFIED), absl::ZeroDuration());
  EXPECT_EQ(WindowLength(static_cast<v1::WindowSize>(7)), absl::ZeroDuration());
}

TEST(WindowSizeNameTest, RoundTrips) {
  EXPECT_EQ(WindowSizeName(v1::WINDOW_SIZE_1M), "1m");
  EXPECT_EQ(WindowSizeName(v1::WINDOW_SIZE_5M), "5m");
  EXPECT_EQ(WindowSizeName(v1::WINDOW_SIZE_UNSPECIFIED), "");
  for (v1::WindowSize size : {v1::WINDOW_SIZE_1M, v1::WINDOW_SIZE_5M}) {
    absl::StatusOr<v1::WindowSize> parsed = ParseWindowSizeName(WindowSizeName(size));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, size);
  }
}

TEST(WindowSizeNameTest, RejectsOtherNames) {
  for (absl::string_view name : {"", "1M", "5", "1m ", "10m", "1h"}) {
    absl::StatusOr<v1::WindowSize> parsed = ParseWindowSizeName(name);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_THAT(ParseWindowSizeName("15m").status().message(), HasSubstr("15m"));
}

TEST(WindowStartTest, StartIsInclusiveEndBelongsToTheNext) {
  const absl::Time start = absl::FromUnixSeconds(1'800'000'000);  // a 5-minute boundary
  for (absl::Duration length : {absl::Minutes(1), absl::Minutes(5)}) {
    EXPECT_EQ(WindowStart(start, length), start);
    EXPECT_EQ(WindowStart(start + absl::Nanoseconds(1), length), start);
    EXPECT_EQ(WindowStart(start + length - absl::Nanoseconds(1), length), start);
    EXPECT_EQ(WindowStart(start + length, length), start + length);
    EXPECT_EQ(WindowStart(start - absl::Nanoseconds(1), length), start - length);
  }
  EXPECT_EQ(WindowStart(start + absl::Seconds(299), absl::Minutes(1)), start + absl::Seconds(240));
  EXPECT_EQ(WindowStart(start + absl::Seconds(299), absl::Minutes(5)), start);
}

TEST(WindowStartTest, FloorsBefore1970) {
  const absl::Time epoch = absl::UnixEpoch();
  EXPECT_EQ(WindowStart(epoch, absl::Minutes(1)), epoch);
  EXPECT_EQ(WindowStart(epoch - absl::Nanoseconds(1), absl::Minutes(1)), epoch - absl::Minutes(1));
  EXPECT_EQ(WindowStart(epoch - absl::Seconds(60), absl::Minutes(1)), epoch - absl::Minutes(1));
  EXPECT_EQ(WindowStart(epoch - absl::Seconds(61), absl::Minutes(1)), epoch - absl::Minutes(2));
  EXPECT_EQ(WindowStart(epoch - absl::Seconds(1), absl::Minutes(5)), epoch - absl::Minutes(5));
  // 1969-12-31T23:57:30Z is in the 5-minute window starting at 23:55.
  EXPECT_EQ(WindowStart(epoch - absl::Seconds(150), absl::Minutes(5)), epoch - absl::Minutes(5));
}

TEST(WindowStartTest, ExhaustiveAroundTheEpochAgainstIntegerFloor) {
  // Every second in +-20 minutes: the start is the largest multiple of the length <= t.
  for (int64_t s = -1200; s <= 1200; ++s) {
    for (int64_t length : {60, 300}) {
      int64_t floor = s - ((s % length) + length) % length;
      EXPECT_EQ(
          WindowStart(absl::FromUnixSeconds(s) + absl::Milliseconds(500), absl::Seconds(length)),
          absl::FromUnixSeconds(floor))
          << s << " " << length;
    }
  }
}

TEST(WindowStartTest, DegenerateInputsAreReturnedUnchanged) {
  const absl::Time t = absl::FromUnixSeconds(1'800'000'017);
  EXPECT_EQ(WindowStart(t, absl::ZeroDuration()), t);
  EXPECT_EQ(WindowStart(t, -absl::Minutes(1)), t);
  EXPECT_EQ(WindowStart(absl::InfiniteFuture(), absl::Minutes(1)), absl::InfiniteFuture());
  EXPECT_EQ(WindowStart(absl::InfinitePast(), absl::Minutes(1)), absl::InfinitePast());
}

TEST(TimestampTest, RoundTripsToTheNanosecond) {
  for (absl::Time t :
       {absl::UnixEpoch(), absl::FromUnixSeconds(1'800'000'000) + absl::Nanoseconds(999'999'999),
        absl::UnixEpoch() - absl::Nanoseconds(1), absl::FromUnixSeconds(-62135596800)}) {
    const google::protobuf::Timestamp proto = TimeToProto(t);
    EXPECT_GE(proto.nanos(), 0);
    EXPECT_LT(proto.nanos(), 1'000'000'000);
    EXPECT_EQ(TimeFromProto(proto), t);
  }
  const google::protobuf::Timestamp before = TimeToProto(absl::UnixEpoch() - absl::Nanoseconds(1));
  EXPECT_EQ(before.seconds(), -1);
  EXPECT_EQ(before.nanos(), 999'999'999);
}

TEST(TimestampTest, RoundsSubNanosecondsDown) {
  const absl::Time t = absl::FromUnixSeconds(5) + absl::Nanoseconds(7) + absl::Nanoseconds(1) / 4;
  EXPECT_EQ(TimeFromProto(TimeToProto(t)), absl::FromUnixSeconds(5) + absl::Nanoseconds(7));
  const absl::Time negative = absl::UnixEpoch() - absl::Nanoseconds(1) / 4;
  EXPECT_EQ(TimeFromProto(TimeToProto(negative)), absl::UnixEpoch() - absl::Nanoseconds(1));
}

TEST(TimestampTest, InfiniteTimesSaturate) {
  EXPECT_EQ(TimeToProto(absl::InfiniteFuture()).seconds(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(TimeToProto(absl::InfiniteFuture()).nanos(), 0);
  EXPECT_EQ(TimeToProto(absl::InfinitePast()).seconds(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(TimeToProto(absl::InfinitePast()).nanos(), 0);
}

}  // namespace
}  // namespace streammetrics::aggregation
