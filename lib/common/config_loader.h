// ConfigLoader: fills one service's configuration struct from STREAMMETRICS_* environment
// variables, then --flags (a flag wins over its variable), once at start (docs/contract.md §6).
//
// Written instead of using absl flags because absl flags are process globals: a service's config
// must be a plain struct with defaults that tests build and load in isolation. Each field is
// registered with its name, which gives both the flag (--kafka_bootstrap) and the variable
// (STREAMMETRICS_KAFKA_BOOTSTRAP), and a help line; --help prints them with their defaults.
#ifndef STREAMMETRICS_LIB_COMMON_CONFIG_LOADER_H_
#define STREAMMETRICS_LIB_COMMON_CONFIG_LOADER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace streammetrics {

class ConfigLoader {
 public:
  explicit ConfigLoader(std::string program) : program_(std::move(program)) {}

  void String(std::string name, std::string* field, std::string help);
  void Bool(std::string name, bool* field, std::string help);
  void Int(std::string name, int64_t* field, std::string help);
  // A finite number ("0.5", "1e5").
  void Double(std::string name, double* field, std::string help);
  // A byte count: an integer with an optional KiB, MiB or GiB suffix ("64MiB").
  void Bytes(std::string name, size_t* field, std::string help);
  // A duration in absl syntax ("250ms", "30s", "5m", "24h").
  void Duration(std::string name, absl::Duration* field, std::string help);
  // A secret (a password, a token, a URL with a password): given directly, or read from a file
  // named by --<name>_file / STREAMMETRICS_<NAME>_FILE (one trailing newline dropped), so it need
  // not appear on a command line or in the environment. --help never prints its value.
  void Secret(std::string name, std::string* field, std::string help);

  using Getenv = std::function<const char*(const char*)>;

  // Applies environment variables, then the flags in argv[1..]. Flags are --name=value (or
  // --name for a bool). Fails with InvalidArgument naming the flag or variable and the expected
  // form when a value does not parse or a flag is unknown; with Cancelled after printing the usage
  // when --help is given.
  absl::Status Load(int argc, const char* const* argv, const Getenv& getenv = nullptr);

  // One line per setting: flag, variable, default (as the struct held it before Load), help.
  std::string Usage() const;

  // "kafka_bootstrap" -> "STREAMMETRICS_KAFKA_BOOTSTRAP".
  static std::string EnvName(absl::string_view name);

 private:
  struct Field {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<absl::Status(absl::string_view)> set;
  };
  void Add(std::string name, std::string help, std::string default_text, bool is_bool,
           std::function<absl::Status(absl::string_view)> set);

  std::string program_;
  std::vector<Field> fields_;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_CONFIG_LOADER_H_
