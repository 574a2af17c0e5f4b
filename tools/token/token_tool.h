// streammetrics-token: mints bearer tokens and checks tokens files (lib/security/token_file.h).
//
//   streammetrics-token new NAME --scopes ingest,query
//       Prints, on stdout, the new token on the first line (shown once: it is stored nowhere)
//       and its tokens-file line on the second. Explanations go to stderr, so
//       `mapfile -t out < <(streammetrics-token new ...)` captures just the two lines.
//   streammetrics-token hash            (the token on stdin)
//       Prints the tokens-file hash of an existing token.
//   streammetrics-token check FILE
//       Parses a tokens file as the services do; prints each line's name and scopes, or the
//       first error with its line number (exit code 1).
#ifndef STREAMMETRICS_TOOLS_TOKEN_TOKEN_TOOL_H_
#define STREAMMETRICS_TOOLS_TOKEN_TOKEN_TOOL_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace streammetrics::token {

// A new token: "smt_" and 43 characters of base64url (256 random bits from OpenSSL's CSPRNG).
// The prefix lets secret scanners recognise a leaked token. Fails only when the CSPRNG does.
absl::StatusOr<std::string> MintToken();

// Runs the tool on `args` (without the program name). Returns the exit code: 0 done, 1 a file
// or token that does not check, 2 a usage error (with the usage on `err`).
int RunTokenTool(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                 std::ostream& err);

}  // namespace streammetrics::token

#endif  // STREAMMETRICS_TOOLS_TOKEN_TOKEN_TOOL_H_
