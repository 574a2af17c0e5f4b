// Owns nothing beyond the handles it returns; see kafka_config.h.
#include "lib/kafka/kafka_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace streammetrics::kafka {

Properties ZeroLossProducerProperties(absl::string_view bootstrap_servers) {
  return {
      {"bootstrap.servers", std::string(bootstrap_servers)},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // With idempotence librdkafka retries until message.timeout.ms; a message that still fails
      // is reported in its delivery report and never acknowledged to a client.
      {"message.timeout.ms", "120000"},
      {"partitioner", "murmur2_random"},
  };
}

Properties StallTolerantClientProperties() {
  return {
      // A Produce request to a stalled leader waits min(this, the message's remaining
      // message.timeout.ms); a Fetch waits fetch.wait.max.ms + this. Measured with one broker of
      // three SIGSTOPped for 20 s under 5,000 events/s: at librdkafka's 60 s no ack came for the
      // whole stall; at 8 s (brokers fencing after 6 s) acks were back after 5 s. It must stay
      // above the brokers' session timeout: a timeout before the stalled node is fenced finds it
      // still named leader, and the retry goes back to it.
      {"socket.timeout.ms", "8000"},
      // A connection to a stalled node completes in the kernel and then hangs: give it up in the
      // same time instead of librdkafka's 30 s.
      {"socket.connection.setup.timeout.ms", "8000"},
  };
}

absl::StatusOr<Properties> ParseProperties(absl::string_view text) {
  Properties out;
  int position = 0;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    ++position;
    // Errors name the item by position, never by its text: it may hold a password.
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("Kafka property number ", position,
                                                     " has no '='; write name=value,name=value"));
    }
    absl::string_view name = absl::StripAsciiWhitespace(item.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(item.substr(eq + 1));
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property number ", position, " has an empty name"));
    }
    out.emplace_back(std::string(name), std::string(value));
  }
  return out;
}

absl::StatusOr<ConfPtr> MakeConf(const Properties& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      // librdkafka quotes the value it refuses; longer values are scrubbed wherever they occur
      // (short ones would garble the numbers of the reason, and are not secrets).
      std::string reason =
          absl::StrReplaceAll(err, {{absl::StrCat("\"", value, "\""), "(not shown)"}});
      if (value.size() >= 6) reason = absl::StrReplaceAll(reason, {{value, "(not shown)"}});
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property ", name, " rejected: ", reason));
    }
  }
  return conf;
}

absl::StatusOr<HandlePtr> MakeClient(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  // rd_kafka_new takes ownership of conf only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka client: ", err));
  }
  conf.release();
  return HandlePtr(rk);
}

}  // namespace streammetrics::kafka
