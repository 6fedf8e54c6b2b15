// is_iso8601_datetime: a strict hand-written RFC 3339 / ISO-8601 extended-format parser; the calendar check
// (month lengths, leap years) is Howard Hinnant's date::year_month_day::ok().
#include <date/date.h>

#include "ascii.hpp"
#include "omt/validate/validators.hpp"

namespace omt::validate {
namespace {

// The longest valid form is 35 bytes ("2024-02-29T23:59:59.123456789+05:30"); anything past 64 is refused
// before it is looked at.
constexpr std::size_t kMaxDateTimeBytes = 64;

// A cursor over the input: every read is bounds-checked, so malformed or truncated input simply fails.
class Cursor {
 public:
  explicit Cursor(std::string_view s) noexcept : s_(s) {}

  bool at_end() const noexcept { return pos_ == s_.size(); }
  bool peek_is(char c) const noexcept { return pos_ < s_.size() && s_[pos_] == c; }

  bool take(char c) noexcept {
    if (!peek_is(c)) return false;
    ++pos_;
    return true;
  }
  bool take_any_of(std::string_view chars) noexcept {
    if (pos_ >= s_.size() || chars.find(s_[pos_]) == std::string_view::npos) return false;
    ++pos_;
    return true;
  }
  // Exactly `count` ASCII digits as a number.
  bool take_digits(std::size_t count, unsigned& out) noexcept {
    if (s_.size() - pos_ < count) return false;
    unsigned value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = s_[pos_ + i];
      if (!ascii::is_digit(c)) return false;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    pos_ += count;
    out = value;
    return true;
  }
  // A run of ASCII digits (bounded by the input cap); returns how many were taken.
  std::size_t skip_digits() noexcept {
    std::size_t n = 0;
    while (pos_ < s_.size() && ascii::is_digit(s_[pos_])) {
      ++pos_;
      ++n;
    }
    return n;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// 'Z' / 'z', or +HH:MM, +HHMM, +HH (also '-'); offset hours 00-23 and minutes 00-59. "-00:00" is accepted
// (RFC 3339: UTC, local offset unknown).
bool parse_offset(Cursor& in) noexcept {
  if (in.take('Z') || in.take('z')) return true;
  if (!in.take_any_of("+-")) return false;
  unsigned hours = 0;
  unsigned minutes = 0;
  if (!in.take_digits(2, hours) || hours > 23) return false;
  if (in.at_end()) return true;  // +HH
  in.take(':');                  // +HH:MM, or +HHMM without it
  return in.take_digits(2, minutes) && minutes <= 59;
}

}  // namespace

bool is_iso8601_datetime(std::string_view input) {
  if (input.empty() || input.size() > kMaxDateTimeBytes) return false;
  Cursor in(input);

  unsigned year = 0;
  unsigned month = 0;
  unsigned day = 0;
  if (!in.take_digits(4, year) || !in.take('-') || !in.take_digits(2, month) || !in.take('-') ||
      !in.take_digits(2, day)) {
    return false;
  }
  // Year 0000 is valid ISO-8601 (1 BC) but not a date most consumers (e.g. Python's datetime) can hold.
  if (year == 0) return false;
  const date::year_month_day ymd{date::year{static_cast<int>(year)}, date::month{month}, date::day{day}};
  if (!ymd.ok()) return false;

  if (!in.take_any_of("Tt ")) return false;

  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  if (!in.take_digits(2, hour) || !in.take(':') || !in.take_digits(2, minute) || !in.take(':') ||
      !in.take_digits(2, second)) {
    return false;
  }
  // Seconds 60 (leap second) are refused everywhere: the value is forwarded as-is and common parsers on the
  // receiving side (Python's datetime among them) reject it. 24:00:00 is refused as RFC 3339 does.
  if (hour > 23 || minute > 59 || second > 59) return false;

  if (in.take_any_of(".,")) {
    const std::size_t digits = in.skip_digits();
    if (digits == 0 || digits > 9) return false;  // 1..9 digits: nanoseconds at most
  }

  if (!in.at_end() && !parse_offset(in)) return false;
  return in.at_end();
}

}  // namespace omt::validate
