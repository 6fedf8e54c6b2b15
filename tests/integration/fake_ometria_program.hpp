// The fake-ometria program (tests/support/fake_ometria_main.cpp) as a child process on 127.0.0.1 port 0, its
// accepted records written as JSON lines to `out`, for tests of the real binaries against it. Start-up waits for
// its "listening on" line (bounded). Header-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "http_client.hpp"

namespace omt::test {

struct RunningFakeProgram {
  ChildProcess child;
  std::uint16_t port = 0;
  // `keys`: the accepted X-Ometria-Auth keys; `extra`: more options (--rate-limit N, --status CODE, ...).
  RunningFakeProgram(const std::string& keys, const std::string& out, const std::vector<std::string>& extra)
      : child(OMT_FAKE_OMETRIA_BINARY, arguments(keys, out, extra)) {
    const auto line = child.wait_for_line("listening on", std::chrono::seconds(10));
    if (!line) throw std::runtime_error("fake-ometria did not start: " + child.output());
    const auto colon = line->rfind(':');  // "fake-ometria: listening on http://127.0.0.1:PORT/v2/push"
    port = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
  }
  static std::vector<std::string> arguments(const std::string& keys, const std::string& out, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--keys", keys, "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  nlohmann::json stats() {
    HttpClient client("127.0.0.1", port);
    return nlohmann::json::parse(client.get("/_fake/stats").body);
  }
  nlohmann::json rates() {
    HttpClient client("127.0.0.1", port);
    return nlohmann::json::parse(client.get("/_fake/rates").body);
  }
};

}  // namespace omt::test
