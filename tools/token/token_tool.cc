// streammetrics-token: see token_tool.h.
#include "tools/token/token_tool.h"

#include <openssl/rand.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "lib/security/token_file.h"

namespace streammetrics::token {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  streammetrics-token new NAME --scopes ingest,query   mint a token\n"
    "  streammetrics-token hash                              hash a token read from stdin\n"
    "  streammetrics-token check FILE                        check a tokens file\n";

int Usage(std::ostream& err, absl::string_view problem) {
  err << "streammetrics-token: " << problem << "\n" << kUsage;
  return 2;
}

int New(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string name;
  std::string scopes_text;
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view a = args[i];
    if (absl::ConsumePrefix(&a, "--scopes=")) {
      scopes_text = std::string(a);
    } else if (a == "--scopes" && i + 1 < args.size()) {
      scopes_text = args[++i];
    } else if (!absl::StartsWith(a, "--") && name.empty()) {
      name = std::string(a);
    } else {
      return Usage(err, absl::StrCat("unexpected argument \"", absl::CHexEscape(a), "\""));
    }
  }
  if (name.empty() || scopes_text.empty()) return Usage(err, "new needs NAME and --scopes");
  if (!security::IsValidCallerName(name)) {
    return Usage(err, "NAME must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
  }
  absl::StatusOr<security::ScopeSet> scopes = security::ParseScopes(scopes_text);
  if (!scopes.ok()) return Usage(err, scopes.status().message());
  absl::StatusOr<std::string> token = MintToken();
  if (!token.ok()) {
    err << "streammetrics-token: " << token.status().message() << "\n";
    return 1;
  }
  err << "The token of " << name << " (" << security::ScopesText(*scopes)
      << "), shown once: give it to the caller and store it in your secret store.\n"
      << "Then add the second line to the services' tokens file (--auth_tokens_file); it holds "
         "only the token's hash.\n";
  out << *token << "\n" << security::TokenFileLine(*token, name, *scopes) << "\n";
  return 0;
}

int Hash(std::istream& in, std::ostream& out, std::ostream& err) {
  std::string token;
  std::getline(in, token);
  absl::string_view t = absl::StripAsciiWhitespace(token);
  if (t.empty()) {
    err << "streammetrics-token: hash reads the token from stdin; got an empty line\n";
    return 1;
  }
  out << security::Sha256Hex(t) << "\n";
  return 0;
}

int Check(const std::string& path, std::ostream& out, std::ostream& err) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    err << "streammetrics-token: cannot read " << path << "\n";
    return 1;
  }
  std::ostringstream text;
  text << file.rdbuf();
  absl::StatusOr<std::vector<security::TokenEntry>> entries = security::ParseTokenFile(text.str());
  if (!entries.ok()) {
    err << path << ": " << entries.status().message() << "\n";
    return 1;
  }
  for (const security::TokenEntry& e : *entries) {
    out << e.name << " " << security::ScopesText(e.scopes) << "\n";
  }
  err << path << ": " << entries->size() << " tokens\n";
  return 0;
}

}  // namespace

absl::StatusOr<std::string> MintToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::InternalError("OpenSSL's random generator failed: no token was made");
  }
  std::string encoded;
  absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes),
                            &encoded);
  return absl::StrCat("smt_", encoded);
}

int RunTokenTool(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                 std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    return Usage(err, args.empty() ? "a command is required" : "help");
  }
  if (args[0] == "new") return New(args, out, err);
  if (args[0] == "hash" && args.size() == 1) return Hash(in, out, err);
  if (args[0] == "check" && args.size() == 2) return Check(args[1], out, err);
  return Usage(err, absl::StrCat("unknown command or arguments: ", absl::CHexEscape(args[0])));
}

}  // namespace streammetrics::token
