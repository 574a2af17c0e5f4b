#include "lib/kafka/kafka_config.h"

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

std::string Get(rd_kafka_conf_t* conf, const char* name) {
  char buf[512];
  size_t size = sizeof(buf);
  if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK) return "<unset>";
  return buf;
}

TEST(KafkaConfigTest, ZeroLossPropertiesAreAcceptedByLibrdkafka) {
  auto conf = MakeConf(ZeroLossProducerProperties("127.0.0.1:1"));
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(Get(conf->get(), "enable.idempotence"), "true");
  // librdkafka normalises acks=all to -1.
  EXPECT_EQ(Get(conf->get(), "acks"), "-1");
  EXPECT_EQ(Get(conf->get(), "partitioner"), "murmur2_random");
}

TEST(KafkaConfigTest, StallTolerantPropertiesSuitProducersAndConsumers) {
  Properties props = StallTolerantClientProperties();
  auto producer = MakeConf(props);
  ASSERT_TRUE(producer.ok()) << producer.status();
  EXPECT_EQ(Get(producer->get(), "socket.timeout.ms"), "8000");
  EXPECT_EQ(Get(producer->get(), "socket.connection.setup.timeout.ms"), "8000");
  props.emplace_back("group.id", "g");  // consumer-only properties beside them are accepted too
  props.emplace_back("fetch.wait.max.ms", "100");
  auto consumer = MakeConf(props);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  // Above the brokers' 6 s session: a request must not give a stalled leader up before the
  // controller has fenced it and named a new one.
  int64_t timeout_ms = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Get(producer->get(), "socket.timeout.ms"), &timeout_ms));
  EXPECT_GT(timeout_ms, 6000);
}

TEST(KafkaConfigTest, LaterPropertyOverridesEarlier) {
  auto conf = MakeConf({{"linger.ms", "5"}, {"linger.ms", "20"}});
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(Get(conf->get(), "linger.ms"), "20");
}

TEST(KafkaConfigTest, UnknownPropertyNamesItself) {
  auto conf = MakeConf({{"acks", "all"}, {"lingerr.ms", "5"}});
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(conf.status().message(), HasSubstr("lingerr.ms"));
}

TEST(KafkaConfigTest, InvalidValueIsRejected) {
  auto conf = MakeConf({{"compression.type", "brotli"}});
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(conf.status().message(), HasSubstr("compression.type"));
}

TEST(KafkaConfigTest, ParsePropertiesTrimsAndKeepsOrder) {
  auto props = ParseProperties(" linger.ms = 5 ,compression.type=lz4,, ");
  ASSERT_TRUE(props.ok());
  EXPECT_THAT(*props,
              ::testing::ElementsAre(Pair("linger.ms", "5"), Pair("compression.type", "lz4")));
  EXPECT_TRUE(ParseProperties("")->empty());
  // A value may itself contain '='.
  EXPECT_THAT(*ParseProperties("sasl.jaas=a=b"), ::testing::ElementsAre(Pair("sasl.jaas", "a=b")));
}

TEST(KafkaConfigTest, ParsePropertiesRejectsMalformedItems) {
  EXPECT_THAT(ParseProperties("linger.ms").status().message(), HasSubstr("no '='"));
  EXPECT_THAT(ParseProperties("a=1,=5").status().message(),
              HasSubstr("number 2 has an empty name"));
  // A password typed without its name is not echoed.
  EXPECT_THAT(ParseProperties("sasl.username=u,hunter2").status().message(),
              ::testing::Not(HasSubstr("hunter2")));
}

TEST(KafkaConfigTest, ARejectedPropertyIsNamedButItsValueNeverShown) {
  // Misspelled secret names (no word of them says "password") and invalid values, which
  // librdkafka's own reason quotes: the error names the property, never the value.
  for (const auto& [name, value] : Properties{{"sasl.pasword", "hunter2"},
                                              {"sasl.passwordd", "hunter2"},
                                              {"acks", "hunter2"},
                                              {"linger.ms", "hunter2"}}) {
    auto conf = MakeConf({{name, value}});
    ASSERT_FALSE(conf.ok()) << name;
    EXPECT_THAT(conf.status().message(), HasSubstr(name));
    EXPECT_THAT(conf.status().message(), ::testing::Not(HasSubstr("hunter2")));
  }
}

TEST(KafkaConfigTest, MakeClientReportsConflictingSettings) {
  // Idempotence requires acks=all; librdkafka refuses the combination at creation.
  auto conf = MakeConf({{"enable.idempotence", "true"}, {"acks", "1"}});
  ASSERT_TRUE(conf.ok());
  auto client = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status().message(), HasSubstr("acks"));
}

TEST(KafkaConfigTest, MakeClientCreatesProducer) {
  auto conf = MakeConf(ZeroLossProducerProperties("127.0.0.1:1"));
  ASSERT_TRUE(conf.ok());
  auto client = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_NE(client->get(), nullptr);
}

}  // namespace
}  // namespace streammetrics::kafka
