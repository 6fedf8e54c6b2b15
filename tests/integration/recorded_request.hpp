// HTTP requests recorded byte for byte from real clients (tests/integration/data/<client>/<name>.http: request
// line, header block and body as the client sent them; tests/sdk/ records them), read for replaying as they are.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace omt::test {

struct RecordedRequest {
  std::string raw;   // request line, header block and body, exactly as the client sent them
  std::string head;  // the request line and header block, each line ending in CRLF
  std::string body;  // as sent (compressed, when the client compressed it)

  // The value of a header (its name compared without regard to case); "" if absent.
  std::string header(std::string name) const {
    const auto lower = [](std::string s) {
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return s;
    };
    name = lower(name) + ":";
    std::istringstream lines(head);
    for (std::string line; std::getline(lines, line);) {
      if (lower(line.substr(0, name.size())) != name) continue;
      auto value = line.substr(name.size());
      value.erase(0, value.find_first_not_of(' '));
      if (!value.empty() && value.back() == '\r') value.pop_back();
      return value;
    }
    return "";
  }
};

// tests/integration/data/<client>/<name>.
inline RecordedRequest recorded_request(const std::string& client, const std::string& name) {
  const auto path = std::filesystem::path(OMT_SOURCE_DIR) / "tests/integration/data" / client / name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream content;
  content << in.rdbuf();
  RecordedRequest r;
  r.raw = content.str();
  const auto end = r.raw.find("\r\n\r\n");
  if (end == std::string::npos) throw std::runtime_error(path.string() + ": no header block");
  r.head = r.raw.substr(0, end + 2);
  r.body = r.raw.substr(end + 4);
  return r;
}

}  // namespace omt::test
