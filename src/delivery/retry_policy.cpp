#include "omt/delivery/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "omt/core/text.hpp"

namespace omt::delivery {
namespace {

using std::chrono::milliseconds;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool all_alpha(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

// A non-negative decimal integer; nullopt on anything else (signs, spaces inside, overflow).
std::optional<std::int64_t> parse_count(std::string_view s) {
  s = text::trim(s);
  if (!all_digits(s)) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<int> parse_month(std::string_view name) {
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < months.size(); ++i) {
    if (name == months[i]) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

// "08:49:37" -> seconds of the day.
std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = parse_count(s.substr(0, 2)), m = parse_count(s.substr(3, 2)), sec = parse_count(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;  // 60: leap second
  return static_cast<int>(*h * 3600 + *m * 60 + *sec);
}

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view value) {
  // Split on spaces, commas and dashes: the three formats of RFC 9110 section 5.6.7 then differ only in order.
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || value[i] == ' ' || value[i] == ',' || value[i] == '-') {
      if (i > start) tokens.push_back(value.substr(start, i - start));
      start = i + 1;
    }
    if (tokens.size() > 6) return std::nullopt;
  }
  if (tokens.size() < 5 || !all_alpha(tokens[0])) return std::nullopt;
  std::optional<std::int64_t> day, year;
  std::optional<int> month, seconds;
  if (tokens.size() == 6 && all_digits(tokens[1])) {  // IMF-fixdate or RFC 850: day month year time GMT
    if (tokens[5] != "GMT") return std::nullopt;
    day = parse_count(tokens[1]);
    month = parse_month(tokens[2]);
    year = parse_count(tokens[3]);
    seconds = parse_clock(tokens[4]);
    if (year && tokens[3].size() == 2) *year += (*year < 70 ? 2000 : 1900);
  } else if (tokens.size() == 5 && all_alpha(tokens[1])) {  // asctime: month day time year
    month = parse_month(tokens[1]);
    day = parse_count(tokens[2]);
    seconds = parse_clock(tokens[3]);
    year = parse_count(tokens[4]);
  } else {
    return std::nullopt;
  }
  if (!day || !month || !year || !seconds || *year < 1970 || *year > 9999 || *day < 1 || *day > 31) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{static_cast<int>(*year)},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days{date} + std::chrono::seconds{*seconds};
}

std::string http_reason(int status) {
  std::string text = "HTTP " + std::to_string(status);
  switch (status) {
    case 400: return text + " Bad Request: Ometria refused the payload";
    case 401: return text + " Unauthorized: Ometria refused the API key";
    case 403: return text + " Forbidden: Ometria refused the API key";
    case 404: return text + " Not Found: check the Ometria endpoint";
    case 408: return text + " Request Timeout";
    case 413: return text + " Payload Too Large: Ometria refused the payload size";
    case 429: return text + " Too Many Requests";
    default: return text;
  }
}

}  // namespace

std::string_view to_string(Decision::Action action) {
  switch (action) {
    case Decision::Action::delivered: return "delivered";
    case Decision::Action::retry: return "retry";
    case Decision::Action::dead_letter: return "dead_letter";
    case Decision::Action::hold_key: return "hold_key";
  }
  return "unknown";
}

milliseconds backoff_ceiling(std::uint32_t attempt, const RetryConfig& config) {
  const auto base = std::max<std::int64_t>(config.base_delay.count(), 0);
  const auto cap = std::max<std::int64_t>(config.max_delay.count(), 0);
  if (attempt <= 1 || base == 0) return milliseconds{std::min(base, cap)};
  // Doubling stops as soon as the cap is reached, so this never overflows.
  std::int64_t ceiling = base;
  for (std::uint32_t i = 1; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  return milliseconds{std::min(ceiling, cap)};
}

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  value = text::trim(value);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (all_digits(value)) {
    // Anything past a day is as good as "a long time": clamp before converting so it cannot overflow.
    constexpr std::int64_t max_seconds = 24 * 3600;
    if (value.size() > 9) return milliseconds{max_seconds * 1000};
    auto seconds = parse_count(value);
    if (!seconds) return std::nullopt;
    return milliseconds{std::min(*seconds, max_seconds) * 1000};
  }
  // In whole seconds: system_clock counts nanoseconds, which would overflow for dates past 2262.
  auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  const auto now_seconds = std::chrono::floor<std::chrono::seconds>(now);
  if (*when <= now_seconds) return milliseconds{0};
  const auto ahead = std::min<std::int64_t>((*when - now_seconds).count(), 24 * 3600);
  return milliseconds{ahead * 1000};
}

milliseconds queue_pressure_delay(const PushOutcome& outcome, const RetryConfig& config) {
  if (!outcome.has_answer() || !outcome.answer.queue_size_remaining) return milliseconds{0};
  auto remaining = parse_count(*outcome.answer.queue_size_remaining);
  if (!remaining) return milliseconds{0};
  std::int64_t limit = config.default_queue_size_limit;
  if (outcome.answer.queue_size_limit) {
    if (auto parsed = parse_count(*outcome.answer.queue_size_limit); parsed && *parsed > 0) limit = *parsed;
  }
  if (limit <= 0 || config.queue_slowdown_fraction <= 0) return milliseconds{0};
  const double threshold = config.queue_slowdown_fraction * static_cast<double>(limit);
  const double room = static_cast<double>(std::min(*remaining, limit));
  if (room >= threshold) return milliseconds{0};
  const double pressure = 1.0 - room / threshold;  // 0 at the threshold, 1 when nothing remains
  return milliseconds{
      static_cast<std::int64_t>(std::ceil(pressure * static_cast<double>(config.queue_pressure_max_delay.count())))};
}

Decision decide(const PushOutcome& outcome, std::uint32_t attempt, const RetryConfig& config, double uniform01,
                std::chrono::system_clock::time_point now) {
  using Action = Decision::Action;
  const auto pressure = queue_pressure_delay(outcome, config);

  std::string reason;
  if (outcome.has_answer()) {
    const int status = outcome.answer.status;
    if (status >= 200 && status <= 299) return Decision{Action::delivered, pressure, {}};
    if (status == 401 || status == 403) return Decision{Action::hold_key, config.hold_probe_interval, http_reason(status)};
    const bool retryable = status == 408 || status == 429 || (status >= 500 && status <= 599);
    // 1xx/3xx and codes outside 100..599 say nothing about the records: the endpoint or a proxy misbehaves, so
    // keep them and try again rather than dead-letter a whole account's traffic.
    const bool unexpected = status < 200 || (status >= 300 && status <= 399) || status > 599;
    if (!retryable && !unexpected) return Decision{Action::dead_letter, milliseconds{0}, http_reason(status)};
    reason = unexpected ? "unexpected " + http_reason(status) : http_reason(status);
  } else {
    reason = outcome.network_error == NetworkError::timeout ? "timeout" : "network error";
  }

  if (config.max_attempts != 0 && attempt >= config.max_attempts) {
    return Decision{Action::dead_letter, milliseconds{0},
                    "gave up after " + std::to_string(attempt) + " attempts; last: " + reason};
  }

  // Full jitter: uniform in [0, ceiling]. A sample outside [0, 1) (a broken source) is clamped, not trusted.
  const double sample = std::isfinite(uniform01) ? std::clamp(uniform01, 0.0, 1.0) : 0.0;
  const auto ceiling = backoff_ceiling(attempt, config);
  auto delay = milliseconds{static_cast<std::int64_t>(sample * static_cast<double>(ceiling.count()))};
  if (outcome.has_answer() && outcome.answer.retry_after) {
    if (auto server = parse_retry_after(*outcome.answer.retry_after, now)) {
      delay = std::max(delay, std::min(*server, config.max_retry_after));
    }
  }
  delay = std::max(delay, pressure);
  return Decision{Action::retry, delay, std::move(reason)};
}

}  // namespace omt::delivery
