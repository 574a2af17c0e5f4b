// Matchers for protobuf messages, shared by every test that compares them.
#ifndef STREAMMETRICS_TESTS_SUPPORT_PROTO_MATCHERS_H_
#define STREAMMETRICS_TESTS_SUPPORT_PROTO_MATCHERS_H_

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"

namespace streammetrics::testing {

// Matches a message equal to `expected` field by field (MessageDifferencer::Equals): set fields,
// repeated order and unknown fields included. On a mismatch gmock prints both messages.
MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_PROTO_MATCHERS_H_
