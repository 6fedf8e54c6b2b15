#include "omt/obs/log.hpp"

#include <openssl/sha.h>

#include <atomic>
#include <cctype>
#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>

namespace omt::obs {
namespace {
std::atomic<bool> g_log_pii{false};

bool is_email_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '+' || c == '%';
}
}  // namespace

void init_logging(const LogOptions& options) {
  auto logger = spdlog::stderr_logger_mt("omt-" + std::to_string(reinterpret_cast<std::uintptr_t>(&options)));
  std::string level = options.level;
  if (const char* env = std::getenv("OMT_LOG_LEVEL"); env && *env) level = env;
  logger->set_level(spdlog::level::from_str(level));
  if (options.format == LogFormat::json) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  g_log_pii.store(options.log_pii);
  spdlog::set_default_logger(logger);
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

std::string redact_pii(std::string_view text) {
  if (g_log_pii.load(std::memory_order_relaxed)) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '@') {
      // Mask the local part already copied and the domain that follows.
      std::size_t start = out.size();
      while (start > 0 && is_email_char(out[start - 1])) --start;
      std::size_t end = i + 1;
      while (end < text.size() && is_email_char(text[end])) ++end;
      if (start < out.size() && end > i + 1) {
        out.resize(start);
        out += "<email>";
        i = end;
        continue;
      }
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '+' && i + 1 < text.size() &&
                                                        std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
      // A run of 7+ digits (spaces, dashes, brackets and dots allowed between) looks like a phone number.
      std::size_t end = i, digits = 0;
      while (end < text.size()) {
        const char d = text[end];
        if (std::isdigit(static_cast<unsigned char>(d))) ++digits;
        else if (!(d == ' ' || d == '-' || d == '(' || d == ')' || d == '.' || (d == '+' && end == i))) break;
        ++end;
      }
      if (digits >= 7) {
        out += "<phone>";
        i = end;
        continue;
      }
      out.append(text.substr(i, end - i > 0 ? end - i : 1));
      i = end > i ? end : i + 1;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace omt::obs
