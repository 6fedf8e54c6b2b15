// Log capture and a leak scanner for tests. LogCapture installs the project's logger (obs::init_logging, same
// formatter) on an in-memory ostream_sink and restores the previous default logger when it goes away;
// find_log_leaks scans captured lines for API keys, e-mail addresses and phone numbers in any layout.
// Reusable by any test that drives the service (the routes now, end-to-end delivery later).
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "omt/obs/log.hpp"

namespace omt::test {

class LogCapture {
 public:
  explicit LogCapture(const obs::LogOptions& options);
  ~LogCapture();  // restores the default logger in place before (and the PII switch off)
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Every line written so far, without its newline. Call once the code under test has stopped logging.
  std::vector<std::string> lines() const;

 private:
  std::shared_ptr<std::ostringstream> stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

// What a log must never show.
struct Forbidden {
  std::vector<std::string> api_keys;
  std::vector<std::string> emails;  // the address, its local part and its domain are each searched for
  std::vector<std::string> phones;  // matched by their last 7 digits whatever the separators around them
};

// One line per leak: "line 12 holds e-mail ann@example.com: <the line>". Empty when the log is clean.
std::vector<std::string> find_log_leaks(const std::vector<std::string>& lines, const Forbidden& forbidden);

}  // namespace omt::test
