// Tests of ValidateBatch: client_id, sequence and event count at their boundaries, the reason and
// message of each rejection, and the order of the checks. Events inside a batch are not its
// concern (ValidateEvent, validation_test.cc).
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/validation.h"
#include "tests/lib/events/validation_test_util.h"

namespace streammetrics::events::validation_test {
namespace {

std::optional<BatchViolation> CheckBatch(std::string client_id, uint64_t sequence, size_t events,
                                         const ValidationLimits& limits = {}) {
  v1::MetricBatch batch;
  batch.set_client_id(std::move(client_id));
  batch.set_sequence(sequence);
  for (size_t i = 0; i < events; ++i) *batch.add_events() = ValidEvent();
  return ValidateBatch(batch, limits);
}

TEST(ValidateBatchTest, ValidBatchesAreAccepted) {
  EXPECT_THAT(CheckBatch("checkout-7f9c-pod-3", 1, 1), IsValid());
  EXPECT_THAT(CheckBatch(std::string(128, 'c'), std::numeric_limits<uint64_t>::max(), 1000),
              IsValid());
  // Events are validated separately: an invalid event does not reject its batch.
  v1::MetricBatch batch;
  batch.set_client_id("c");
  batch.set_sequence(1);
  batch.add_events();
  EXPECT_THAT(ValidateBatch(batch, {}), IsValid());
}

TEST(ValidateBatchTest, InvalidClientId) {
  EXPECT_THAT(CheckBatch("", 1, 1),
              Rejects(kBadClient, "client_id is empty; it is required (1 to 128 bytes)"));
  for (const std::string blank : {" ", "  ", "\t", " \t"}) {
    EXPECT_THAT(CheckBatch(blank, 1, 1), Rejects(kBadClient, "client_id is only whitespace"));
  }
  EXPECT_THAT(CheckBatch(std::string(129, 'c'), 1, 1),
              Rejects(kBadClient, "client_id is 129 bytes long; the limit is 128"));
  for (char c : {'\0', '\x1F', '\x7F', '\n'}) {
    EXPECT_THAT(CheckBatch(std::string("a") + c + "b", 1, 1),
                Rejects(kBadClient, absl::StrFormat("client_id contains control character "
                                                    "0x%02X at byte 1",
                                                    static_cast<int>(c))));
  }
  ValidationLimits limits;
  limits.max_client_id_length = 3;
  EXPECT_THAT(CheckBatch("abc", 1, 1, limits), IsValid());
  EXPECT_THAT(CheckBatch("abcd", 1, 1, limits), Rejects(kBadClient, "the limit is 3"));
}

TEST(ValidateBatchTest, SequenceZero) {
  EXPECT_THAT(CheckBatch("c", 0, 1), Rejects(kBadSequence,
                                             "sequence is 0; batch sequences start "
                                             "at 1"));
}

TEST(ValidateBatchTest, EventCount) {
  EXPECT_THAT(CheckBatch("c", 1, 0),
              Rejects(kEmpty, "batch has no events; send 1 to 1000 events per batch"));
  EXPECT_THAT(CheckBatch("c", 1, 1000), IsValid());
  EXPECT_THAT(CheckBatch("c", 1, 1001),
              Rejects(kTooManyEvents, "batch has 1001 events; the limit is 1000"));
  ValidationLimits limits;
  limits.max_batch_events = 2;
  EXPECT_THAT(CheckBatch("c", 1, 2, limits), IsValid());
  EXPECT_THAT(CheckBatch("c", 1, 3, limits), Rejects(kTooManyEvents, "the limit is 2"));
}

TEST(ValidateBatchTest, ChecksRunInTheDocumentedOrder) {
  EXPECT_THAT(CheckBatch("", 0, 0), Rejects(kBadClient, ""));
  EXPECT_THAT(CheckBatch("c", 0, 0), Rejects(kBadSequence, ""));
  EXPECT_THAT(CheckBatch("c", 0, 1001), Rejects(kBadSequence, ""));
  EXPECT_THAT(CheckBatch("c", 1, 0), Rejects(kEmpty, ""));
}

}  // namespace
}  // namespace streammetrics::events::validation_test
