#include "log_capture.hpp"

#include <algorithm>
#include <cctype>

#include <spdlog/sinks/ostream_sink.h>

namespace omt::test {

LogCapture::LogCapture(const obs::LogOptions& options)
    : stream_(std::make_shared<std::ostringstream>()), previous_(spdlog::default_logger()) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream_, /*force_flush=*/true);
  obs::init_logging(options, sink);
}

LogCapture::~LogCapture() {
  obs::init_logging(obs::LogOptions{"info", obs::LogFormat::text, false});  // resets the PII switch
  spdlog::set_default_logger(previous_);
}

std::vector<std::string> LogCapture::lines() const {
  spdlog::default_logger()->flush();
  std::vector<std::string> out;
  std::istringstream in(stream_->str());
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d += c;
  }
  return d;
}

// The digits of every run of digits and phone punctuation in `line`: "+44 (0)7700-900 123" -> "4407700900123".
std::vector<std::string> digit_runs(std::string_view line) {
  std::vector<std::string> runs;
  std::string current;
  for (char c : line) {
    if (c >= '0' && c <= '9') current += c;
    else if (std::string_view(" +-.()/\t").find(c) != std::string_view::npos) continue;
    else if (!current.empty()) runs.push_back(std::exchange(current, {}));
  }
  if (!current.empty()) runs.push_back(current);
  return runs;
}

}  // namespace

std::vector<std::string> find_log_leaks(const std::vector<std::string>& lines, const Forbidden& forbidden) {
  std::vector<std::string> leaks;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    const std::string lowered = lower(line);
    auto leak = [&](const std::string& what, const std::string& value) {
      leaks.push_back("line " + std::to_string(n + 1) + " holds " + what + " " + value + ": " + line);
    };
    for (const auto& key : forbidden.api_keys) {
      if (line.find(key) != std::string::npos) leak("API key", key);
    }
    for (const auto& email : forbidden.emails) {
      const std::string e = lower(email);
      const auto at = e.find('@');
      const std::string local = e.substr(0, at), domain = at == std::string::npos ? "" : e.substr(at + 1);
      if (lowered.find(e) != std::string::npos) leak("e-mail", email);
      else if (local.size() >= 4 && lowered.find(local) != std::string::npos) leak("the local part of", email);
      else if (!domain.empty() && lowered.find(domain) != std::string::npos) leak("the domain of", email);
    }
    const auto runs = digit_runs(line);
    for (const auto& phone : forbidden.phones) {
      const std::string digits = digits_of(phone);
      const std::string tail = digits.substr(digits.size() > 7 ? digits.size() - 7 : 0);
      for (const auto& run : runs) {
        if (run.find(tail) != std::string::npos) {
          leak("phone", phone);
          break;
        }
      }
    }
  }
  return leaks;
}

}  // namespace omt::test
