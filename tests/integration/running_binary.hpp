// The real ometria-transformer binary serving on 127.0.0.1 port 0 as a child process, with a temporary config
// file, plus a reading of the child's memory from /proc. Start-up waits for the "listening on" line (bounded).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"

namespace omt::test {

// A JSON config file in the temp directory, removed again by the destructor.
struct TempConfig {
  std::filesystem::path path;
  explicit TempConfig(const nlohmann::json& content) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("omt-test-config-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".json");
    std::ofstream(path) << content.dump(2);
  }
  ~TempConfig() { std::filesystem::remove(path); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;
};

// `serve --listen 127.0.0.1:0 --threads 2 --log-level info` with `extra_args` (each replaces its default).
struct RunningBinary {
  ChildProcess child;
  std::uint16_t port = 0;
  explicit RunningBinary(const std::vector<std::string>& extra_args, const std::vector<std::string>& extra_env = {})
      : child(OMT_BINARY, with_defaults(extra_args), extra_env) {
    const auto line = child.wait_for_line("listening on", std::chrono::seconds(10));
    if (!line) throw std::runtime_error("the server did not start: " + child.output());
    port = port_from_listening_line(*line);
  }
  static std::vector<std::string> with_defaults(const std::vector<std::string>& args) {
    std::vector<std::string> out = {"serve"};
    const std::pair<const char*, const char*> defaults[] = {
        {"--listen", "127.0.0.1:0"}, {"--threads", "2"}, {"--log-level", "info"}};
    for (const auto& [flag, value] : defaults) {
      if (std::find(args.begin(), args.end(), flag) == args.end()) out.insert(out.end(), {flag, value});
    }
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
};

// A process's resident memory now and at its peak, from /proc/PID/status (KiB; 0 if unreadable).
struct ProcessMemory {
  std::uint64_t rss_kib = 0;   // VmRSS
  std::uint64_t peak_kib = 0;  // VmHWM
};

inline ProcessMemory read_process_memory(pid_t pid) {
  ProcessMemory m;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") status >> m.rss_kib;
    else if (key == "VmHWM:") status >> m.peak_kib;
    status.ignore(1 << 20, '\n');
  }
  return m;
}

}  // namespace omt::test
