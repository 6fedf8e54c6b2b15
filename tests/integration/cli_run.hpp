// The real binary run once through the shell, its standard output read whole: for the operator subcommands
// (queue stats, dead-letter ...), whose answers are JSON on stdout. Header-only.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace omt::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// stderr is dropped, or with stderr_too folded into out (to read an error message). env: "NAME=value ..." for the
// child only.
inline RunResult run(const std::string& args, bool stderr_too = false, const std::string& env = "") {
  RunResult result;
  const std::string command =
      (env.empty() ? "" : "env " + env + " ") + std::string(OMT_BINARY) + " " + args + (stderr_too ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace omt::test
