// The one logger: spdlog's default logger, set up once at start-up, writing text or JSON lines (ts, level, msg;
// valid JSON whatever the message holds). Rules for every log line in the project: an API key is never logged
// (use key_fingerprint), and any text that may carry user data goes through redact_pii first, which masks
// e-mail addresses and phone numbers (unless log_pii is on) and the values of secret-named fields (always).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace omt::obs {

enum class LogFormat { text, json };

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  LogFormat format = LogFormat::text;
  bool log_pii = false;  // debugging only: redact_pii leaves e-mail addresses and phone numbers in place
};

// "trace" ... "off" -> the spdlog level; nullopt for anything else.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Installs the default logger, on stderr unless `sink` is given (tests capture with an ostream_sink). Safe to
// call more than once (the last call wins). An unknown level name means "info".
void init_logging(const LogOptions& options, spdlog::sink_ptr sink = nullptr);

// The formatter init_logging installs, for a logger of one's own.
std::unique_ptr<spdlog::formatter> make_line_formatter(LogFormat format);

// A stable, non-reversible name for an API key in logs and metrics: "key:" + 8 hex digits of its SHA-256.
std::string key_fingerprint(std::string_view api_key);

// Text that may carry user data, made fit for a log line: e-mail addresses become "<email>" and phone numbers
// (7 or more digits, in any common layout) "<phone>" unless LogOptions::log_pii is on; the value after a
// secret-looking name (apiKey, X-Ometria-Auth, Authorization, token, password, secret, write key) becomes
// "<secret>" always.
std::string redact_pii(std::string_view text);

// The same, with the PII switch given rather than read from the logger's options.
std::string redact(std::string_view text, bool keep_pii);

// A request or answer body for a trace line: redacted first (a cut must not leave part of a phone number),
// then cut to 4 KiB with the full size noted.
std::string loggable_body(std::string_view body);

// An answer body kept with a record (a dead letter's reason), so always redacted of e-mail addresses, phone
// numbers and secrets whatever log_pii says; made one line (runs of control characters and spaces become one
// space) and cut to at most max_bytes (never inside a UTF-8 character), the cut noted with the full size.
std::string answer_excerpt(std::string_view body, std::size_t max_bytes = 1024);

}  // namespace omt::obs
