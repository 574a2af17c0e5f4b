// Fuzz target: the text parsers of configuration that may come from files or the environment:
// librdkafka property lists, the tokens file, page token keys, series keys (also read back from
// storage), libpq connection strings and a service's flags. Each answers a value or a clear error;
// none crashes, and a connection string's password is never repeated in its error.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation-service/query/page_token_keys.h"
#include "lib/common/config_loader.h"
#include "lib/events/series_key.h"
#include "lib/kafka/kafka_config.h"
#include "lib/pg/connection.h"
#include "lib/security/token_file.h"
#include "tests/fuzz/fuzz_check.h"

using streammetrics::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics;
  FuzzedDataProvider in(data, size);
  const int which = in.ConsumeIntegralInRange(0, 5);
  const std::string text = in.ConsumeRemainingBytesAsString();
  switch (which) {
    case 0: {
      auto properties = kafka::ParseProperties(text);
      if (properties.ok()) {
        for (const auto& [name, value] : *properties) Check(!name.empty());
      }
      break;
    }
    case 1:
      (void)security::ParseTokenFile(text);
      break;
    case 2: {
      auto keys = aggregation::PageTokenKeys::FromText(text);
      if (keys.ok()) {
        const std::string token = keys->Sign("payload");
        Check(keys->Verify(token) == std::optional<std::string>("payload"));
      }
      break;
    }
    case 3: {
      auto series = events::ParseSeriesKey(text);
      if (series.ok()) {
        // A key that parses is the key of what it parses to.
        Check(events::SeriesKey(series->service_id(), series->metric_name(), series->tags()) ==
              text);
      }
      break;
    }
    case 4: {
      // Whatever is wrong with the rest, the password given in it is never repeated.
      const bool url = text.rfind("postgres", 0) == 0;
      const std::string conninfo = url ? text : absl::StrCat(text, " password=Zq7xPasswordMarker");
      absl::Status s = pg::CheckConninfo(conninfo);
      Check(s.ok() || s.message().find("Zq7xPasswordMarker") == std::string::npos);
      break;
    }
    case 5: {
      std::vector<std::string> args = {"prog"};
      for (size_t start = 0; start < text.size() && args.size() < 16;) {
        const size_t end = std::min(text.find('\n', start), text.size());
        args.push_back(text.substr(start, end - start));
        start = end + 1;
      }
      std::vector<const char*> argv;
      for (const auto& a : args) argv.push_back(a.c_str());
      std::string name = "n";
      std::string secret = "s";
      int64_t count = 1;
      double rate = 1;
      size_t bytes = 1;
      absl::Duration wait = absl::Seconds(1);
      bool flag = false;
      ConfigLoader loader("prog");
      loader.String("name", &name, "a name");
      loader.Secret("secret", &secret, "a secret");
      loader.Int("count", &count, "a count");
      loader.Double("rate", &rate, "a rate");
      loader.Bytes("bytes", &bytes, "a size");
      loader.Duration("wait", &wait, "a wait");
      loader.Bool("flag", &flag, "a flag");
      absl::Status s = loader.Load(static_cast<int>(argv.size()), argv.data(),
                                   [](const char*) -> const char* { return nullptr; });
      Check(s.ok() || absl::IsInvalidArgument(s) || absl::IsCancelled(s) || absl::IsNotFound(s));
      break;
    }
  }
  return 0;
}
