// SetOriginal and DeadLetterKey (lib/events/dead_letter_original.h): what a dead letter keeps of
// the refused record is bounded, and says how much there was and what it hashed to.
#include "lib/events/dead_letter_original.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace streammetrics::events {
namespace {

TEST(DeadLetterOriginalTest, ASmallOriginalIsKeptWholeWithItsSizeAndHash) {
  v1::DeadLetter dead;
  SetOriginal("abc", &dead);
  EXPECT_EQ(dead.original(), "abc");
  EXPECT_EQ(dead.original_size(), 3u);
  // SHA-256("abc"), FIPS 180-2's example.
  EXPECT_EQ(absl::BytesToHexString(dead.original_sha256()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DeadLetterOriginalTest, ALargeOriginalKeepsItsPrefixAndTheWholeSizeAndHash) {
  const std::string big(1'200'000, 'x');
  v1::DeadLetter dead;
  SetOriginal(big, &dead);
  EXPECT_EQ(dead.original(), big.substr(0, kDeadLetterOriginalBytes));
  EXPECT_EQ(dead.original_size(), big.size());
  v1::DeadLetter prefix_only;
  SetOriginal(big.substr(0, kDeadLetterOriginalBytes), &prefix_only);
  EXPECT_NE(dead.original_sha256(), prefix_only.original_sha256()) << "hash of the whole";
  EXPECT_LT(dead.ByteSizeLong(), kDeadLetterMaxBytes);
}

TEST(DeadLetterOriginalTest, TheBoundaryIsInclusive) {
  const std::string exact(kDeadLetterOriginalBytes, 'y');
  v1::DeadLetter dead;
  SetOriginal(exact, &dead);
  EXPECT_EQ(dead.original(), exact);
  SetOriginal(exact + "z", &dead);
  EXPECT_EQ(dead.original(), exact);
  EXPECT_EQ(dead.original_size(), exact.size() + 1);
}

TEST(DeadLetterOriginalTest, KeysOverTheLimitAreDropped) {
  EXPECT_EQ(DeadLetterKey("svc|m|k=v"), "svc|m|k=v");
  EXPECT_EQ(DeadLetterKey(std::string(kDeadLetterKeyBytes, 'k')).size(), kDeadLetterKeyBytes);
  EXPECT_EQ(DeadLetterKey(std::string(kDeadLetterKeyBytes + 1, 'k')), "");
}

}  // namespace
}  // namespace streammetrics::events
