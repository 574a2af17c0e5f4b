#include "ingest-service/byte_budget.h"

#include "gtest/gtest.h"

namespace streammetrics::ingest {
namespace {

TEST(ByteBudgetTest, RoomUntilTheLimitIsReached) {
  ByteBudget budget(100);
  EXPECT_TRUE(budget.HasRoom());
  budget.Acquire(99);
  EXPECT_TRUE(budget.HasRoom());
  budget.Acquire(1);
  EXPECT_FALSE(budget.HasRoom());
  EXPECT_EQ(budget.used(), 100u);
  budget.Release(1);
  EXPECT_TRUE(budget.HasRoom());
}

TEST(ByteBudgetTest, OneBatchMayOvershoot) {
  ByteBudget budget(10);
  budget.Acquire(1000);  // a batch larger than the whole budget must still be admitted
  EXPECT_EQ(budget.used(), 1000u);
  EXPECT_FALSE(budget.HasRoom());
  budget.Release(1000);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ByteBudgetTest, WaiterRunsOnceWhenRoomReturns) {
  ByteBudget budget(10);
  int woken = 0;
  EXPECT_FALSE(budget.CallWhenRoom([&] { ++woken; })) << "room now: nothing registered";
  budget.Acquire(30);
  EXPECT_TRUE(budget.CallWhenRoom([&] { ++woken; }));
  budget.Release(10);  // 20 used: still no room
  EXPECT_EQ(woken, 0);
  budget.Release(15);  // 5 used: room
  EXPECT_EQ(woken, 1);
  budget.Release(5);
  EXPECT_EQ(woken, 1) << "a waiter runs once";
}

TEST(ByteBudgetTest, ReleasingMoreThanUsedClampsAtZero) {
  ByteBudget budget(10);
  budget.Acquire(3);
  budget.Release(5);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace streammetrics::ingest
