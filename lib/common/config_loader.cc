#include "lib/common/config_loader.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace streammetrics {
namespace {

absl::Status Bad(absl::string_view name, absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, " (", ConfigLoader::EnvName(name),
                                                 ") = \"", value, "\": expected ", expected));
}

}  // namespace

std::string ConfigLoader::EnvName(absl::string_view name) {
  return absl::StrCat("STREAMMETRICS_", absl::AsciiStrToUpper(name));
}

void ConfigLoader::Add(std::string name, std::string help, std::string default_text, bool is_bool,
                       std::function<absl::Status(absl::string_view)> set) {
  fields_.push_back(
      {std::move(name), std::move(help), std::move(default_text), is_bool, std::move(set)});
}

void ConfigLoader::String(std::string name, std::string* field, std::string help) {
  Add(name, std::move(help), *field, false, [field](absl::string_view v) {
    *field = std::string(v);
    return absl::OkStatus();
  });
}

void ConfigLoader::Bool(std::string name, bool* field, std::string help) {
  Add(name, std::move(help), *field ? "true" : "false", true, [field, name](absl::string_view v) {
    if (!absl::SimpleAtob(v, field)) return Bad(name, v, "true or false");
    return absl::OkStatus();
  });
}

void ConfigLoader::Int(std::string name, int64_t* field, std::string help) {
  Add(name, std::move(help), std::to_string(*field), false, [field, name](absl::string_view v) {
    if (!absl::SimpleAtoi(v, field)) return Bad(name, v, "an integer");
    return absl::OkStatus();
  });
}

void ConfigLoader::Double(std::string name, double* field, std::string help) {
  Add(name, std::move(help), absl::StrCat(*field), false, [field, name](absl::string_view v) {
    double parsed = 0;
    if (!absl::SimpleAtod(v, &parsed) || !std::isfinite(parsed)) {
      return Bad(name, v, "a finite number");
    }
    *field = parsed;
    return absl::OkStatus();
  });
}

void ConfigLoader::Bytes(std::string name, size_t* field, std::string help) {
  Add(name, std::move(help), std::to_string(*field), false, [field, name](absl::string_view v) {
    uint64_t multiplier = 1;
    absl::string_view digits = v;
    for (const auto& [suffix, m] : {std::pair<const char*, uint64_t>{"KiB", 1ULL << 10},
                                    {"MiB", 1ULL << 20},
                                    {"GiB", 1ULL << 30}}) {
      if (absl::EndsWith(v, suffix)) {
        digits = v.substr(0, v.size() - 3);
        multiplier = m;
      }
    }
    uint64_t n = 0;
    if (!absl::SimpleAtoi(digits, &n) || n > (UINT64_MAX / multiplier)) {
      return Bad(name, v, "a byte count such as 1048576, 512KiB, 64MiB or 1GiB");
    }
    *field = static_cast<size_t>(n * multiplier);
    return absl::OkStatus();
  });
}

void ConfigLoader::Duration(std::string name, absl::Duration* field, std::string help) {
  Add(name, std::move(help), absl::FormatDuration(*field), false,
      [field, name](absl::string_view v) {
        if (!absl::ParseDuration(v, field)) {
          return Bad(name, v, "a duration such as 250ms, 30s, 5m or 24h");
        }
        return absl::OkStatus();
      });
}

void ConfigLoader::Secret(std::string name, std::string* field, std::string help) {
  Add(name, help, field->empty() ? "" : "(set, not shown)", false, [field](absl::string_view v) {
    *field = std::string(v);
    return absl::OkStatus();
  });
  const std::string file_flag = absl::StrCat(name, "_file");
  Add(file_flag, absl::StrCat("File holding --", name, " (a secret: ", help, ")"), "", false,
      [field, file_flag](absl::string_view path) {
        std::FILE* f = std::fopen(std::string(path).c_str(), "rb");
        if (f == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("--", file_flag, " (", EnvName(file_flag), "): cannot read ", path));
        }
        std::string value;
        char buffer[4096];
        size_t n = 0;
        while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) value.append(buffer, n);
        std::fclose(f);
        if (absl::EndsWith(value, "\n")) value.pop_back();
        if (absl::EndsWith(value, "\r")) value.pop_back();
        *field = std::move(value);
        return absl::OkStatus();
      });
}

absl::Status ConfigLoader::Load(int argc, const char* const* argv, const Getenv& getenv) {
  for (Field& f : fields_) {
    const std::string env = EnvName(f.name);
    const char* v = getenv ? getenv(env.c_str()) : std::getenv(env.c_str());
    if (v != nullptr) {
      if (absl::Status s = f.set(v); !s.ok()) return s;
    }
  }
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(Usage().c_str(), stdout);
      return absl::CancelledError("--help");
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg,
                                                     "\"; settings are --name=value (see --help)"));
    }
    const size_t eq = arg.find('=');
    absl::string_view name = arg.substr(0, eq);
    Field* field = nullptr;
    for (Field& f : fields_) {
      if (f.name == name) field = &f;
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help for the settings)"));
    }
    if (eq == absl::string_view::npos) {
      if (!field->is_bool) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value: --", name, "=..."));
      }
      if (absl::Status s = field->set("true"); !s.ok()) return s;
      continue;
    }
    if (absl::Status s = field->set(arg.substr(eq + 1)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string ConfigLoader::Usage() const {
  std::string out = absl::StrCat("Usage: ", program_,
                                 " [--name=value ...]\nEach setting can also be given by its "
                                 "environment variable; a flag wins.\n\n");
  for (const Field& f : fields_) {
    absl::StrAppend(&out, "  --", f.name, "  (", EnvName(f.name), ", default \"", f.default_text,
                    "\")\n      ", f.help, "\n");
  }
  return out;
}

}  // namespace streammetrics
