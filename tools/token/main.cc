// streammetrics-token: mints bearer tokens and checks tokens files (see token_tool.h).
#include <iostream>
#include <string>
#include <vector>

#include "tools/token/token_tool.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return streammetrics::token::RunTokenTool(args, std::cin, std::cout, std::cerr);
}
