#include "omt/obs/log.hpp"

#include "omt/obs/event.hpp"

#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include <spdlog/sinks/stdout_sinks.h>

namespace omt::obs {

namespace detail {
extern std::atomic<bool> g_log_pii;  // redact.cpp
}

namespace {

using Buffer = spdlog::memory_buf_t;

void append(Buffer& out, std::string_view s) { out.append(s.data(), s.data() + s.size()); }

void append_hex_escape(Buffer& out, std::string_view prefix, unsigned value, int digits) {
  static constexpr char hex[] = "0123456789abcdef";
  append(out, prefix);
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out.push_back(hex[(value >> shift) & 0xF]);
}

// Length of the well-formed UTF-8 sequence at text[i], 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) length = 2;
  else if (c >= 0xE0 && c <= 0xEF) length = 3, low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) length = 4, low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

// A JSON string's contents: quotes, backslashes and control characters escaped, and invalid UTF-8 replaced by
// U+FFFD, so that every line parses whatever the message holds.
void append_json_escaped(Buffer& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(text, i);
      if (n == 0) {
        append(out, "\\ufffd");
        ++i;
      } else {
        append(out, text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': append(out, "\\\""); break;
      case '\\': append(out, "\\\\"); break;
      case '\n': append(out, "\\n"); break;
      case '\r': append(out, "\\r"); break;
      case '\t': append(out, "\\t"); break;
      case '\b': append(out, "\\b"); break;
      case '\f': append(out, "\\f"); break;
      default:
        if (c < 0x20) append_hex_escape(out, "\\u", c, 4);
        else out.push_back(static_cast<char>(c));
    }
    ++i;
  }
}

// A text line stays one line: control characters are written as \n, \t, \xNN (a message cannot forge a line).
void append_text_escaped(Buffer& out, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7F) {
      out.push_back(ch);
    } else if (c == '\n') {
      append(out, "\\n");
    } else if (c == '\r') {
      append(out, "\\r");
    } else if (c == '\t') {
      append(out, "\\t");
    } else {
      append_hex_escape(out, "\\x", c, 2);
    }
  }
}

void append_utc_timestamp(Buffer& out, std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  append(out, std::string_view(text, static_cast<std::size_t>(std::max(n, 0))));
}

// A named event's members after "msg": "event" and its fields (names are plain identifiers; values escaped).
void append_event_members(Buffer& out, const detail::CurrentEvent& event) {
  append(out, ",\"event\":\"");
  append_json_escaped(out, event.name);
  out.push_back('"');
  for (const auto& field : event.fields->fields()) {
    if (field.name == "ts" || field.name == "level" || field.name == "msg" || field.name == "event") continue;
    append(out, ",\"");
    append_json_escaped(out, field.name);
    append(out, "\":");
    if (field.quoted) out.push_back('"');
    if (field.quoted) append_json_escaped(out, field.value);
    else append(out, field.value);
    if (field.quoted) out.push_back('"');
  }
}

// spdlog's pattern formatter cannot escape the message, so the lines are written here:
//   text: 2024-01-02T03:04:05.678Z info message
//   json: {"ts":"2024-01-02T03:04:05.678Z","level":"info","msg":"message"} (+ a named event's members)
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, Buffer& dest) override {
    const std::string_view level(spdlog::level::to_string_view(msg.level).data(),
                                 spdlog::level::to_string_view(msg.level).size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (format_ == LogFormat::json) {
      append(dest, "{\"ts\":\"");
      append_utc_timestamp(dest, msg.time);
      append(dest, "\",\"level\":\"");
      append(dest, level);
      append(dest, "\",\"msg\":\"");
      append_json_escaped(dest, text);
      dest.push_back('"');
      if (const auto* event = detail::current_event()) append_event_members(dest, *event);
      append(dest, "}\n");
    } else {
      append_utc_timestamp(dest, msg.time);
      dest.push_back(' ');
      append(dest, level);
      dest.push_back(' ');
      append_text_escaped(dest, text);
      dest.push_back('\n');
    }
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LineFormatter>(format_); }

 private:
  LogFormat format_;
};

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  using spdlog::level::level_enum;
  static constexpr std::pair<std::string_view, level_enum> levels[] = {
      {"trace", level_enum::trace}, {"debug", level_enum::debug}, {"info", level_enum::info},
      {"warn", level_enum::warn},   {"error", level_enum::err},   {"critical", level_enum::critical},
      {"off", level_enum::off}};
  for (const auto& [text, level] : levels) {
    if (text == name) return level;
  }
  return std::nullopt;
}

std::unique_ptr<spdlog::formatter> make_line_formatter(LogFormat format) {
  return std::make_unique<LineFormatter>(format);
}

void init_logging(const LogOptions& options, spdlog::sink_ptr sink) {
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("omt", std::move(sink));
  logger->set_formatter(make_line_formatter(options.format));
  logger->set_level(parse_log_level(options.level).value_or(spdlog::level::info));
  detail::g_log_pii.store(options.log_pii);
  spdlog::set_default_logger(std::move(logger));
}

std::string key_fingerprint(std::string_view api_key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(api_key.data()), api_key.size(), digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "key:";
  for (int i = 0; i < 4; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace omt::obs
