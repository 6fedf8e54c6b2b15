// The one logger: spdlog's default logger, set up once at start-up (text or JSON lines).
// Rules for every log line in the project: an API key is never logged (use key_fingerprint), and any text that
// may carry user data (emails, phone numbers) goes through redact_pii first.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace omt::obs {

enum class LogFormat { text, json };

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off (OMT_LOG_LEVEL overrides)
  LogFormat format = LogFormat::text;
  bool log_pii = false;  // when true, redact_pii returns its input unchanged (debugging only)
};

// Installs the default logger on stderr. Safe to call more than once (the last call wins).
void init_logging(const LogOptions& options);

// A stable, non-reversible name for an API key in logs and metrics: "key:" + 8 hex digits of its SHA-256.
std::string key_fingerprint(std::string_view api_key);

// Masks e-mail addresses and phone-number-like digit runs unless LogOptions::log_pii is on.
std::string redact_pii(std::string_view text);

}  // namespace omt::obs
