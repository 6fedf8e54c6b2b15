#include "import/csv_values.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "json/out_value.hpp"
#include "omt/validate/validators.hpp"

namespace omt::import::csv {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_lower(std::string_view text, std::string_view lower_word) {
  if (text.size() != lower_word.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (lower(text[i]) != lower_word[i]) return false;
  return true;
}

std::string quoted(std::string_view cell) {
  constexpr std::size_t shown = 40;
  std::string q = "\"";
  q.append(cell.substr(0, shown));
  if (cell.size() > shown) q += "...";
  q += '"';
  return q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

struct Parsed {
  int year = -1, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int hour12 = -1;
  int pm = -1;
  std::string_view fraction;  // the digits after the seconds' '.'
  bool has_zone = false;
  int zone_minutes = 0;
};

bool digits(std::string_view in, std::size_t& at, std::size_t min, std::size_t max, int& value) {
  std::size_t n = 0;
  value = 0;
  while (n < max && at + n < in.size() && in[at + n] >= '0' && in[at + n] <= '9') value = value * 10 + (in[at + n++] - '0');
  if (n < min) return false;
  at += n;
  return true;
}

bool zone_at(std::string_view in, std::size_t& at, int& minutes) {
  if (at < in.size() && (in[at] == 'Z' || in[at] == 'z')) {
    ++at;
    minutes = 0;
    return true;
  }
  if (in.substr(at, 3) == "UTC" || in.substr(at, 3) == "GMT") {
    at += 3;
    if (at >= in.size() || (in[at] != '+' && in[at] != '-')) {
      minutes = 0;
      return true;
    }
  }
  if (at >= in.size() || (in[at] != '+' && in[at] != '-')) return false;
  const int sign = in[at++] == '-' ? -1 : 1;
  int hh = 0, mm = 0;
  if (!digits(in, at, 2, 2, hh) || hh > 23) return false;
  if (at < in.size() && in[at] == ':') {
    ++at;
    if (!digits(in, at, 2, 2, mm)) return false;
  } else if (at + 1 < in.size() && in[at] >= '0' && in[at] <= '9') {
    if (!digits(in, at, 2, 2, mm)) return false;
  }
  if (mm > 59) return false;
  minutes = sign * (hh * 60 + mm);
  return true;
}

// strptime's common subset: %Y %m %d %H %I %M %S (an optional .fraction follows) %p %z (Z, +hh, +hhmm,
// +hh:mm, UTC) %%; any other character must match itself.
bool parse_time(std::string_view in, std::string_view fmt, Parsed& out) {
  std::size_t at = 0;
  for (std::size_t f = 0; f < fmt.size(); ++f) {
    if (fmt[f] != '%') {
      if (at >= in.size() || in[at] != fmt[f]) return false;
      ++at;
      continue;
    }
    if (++f >= fmt.size()) return false;
    switch (fmt[f]) {
      case 'Y': if (!digits(in, at, 4, 4, out.year)) return false; break;
      case 'm': if (!digits(in, at, 1, 2, out.month)) return false; break;
      case 'd': if (!digits(in, at, 1, 2, out.day)) return false; break;
      case 'H': if (!digits(in, at, 1, 2, out.hour)) return false; break;
      case 'I': if (!digits(in, at, 1, 2, out.hour12)) return false; break;
      case 'M': if (!digits(in, at, 2, 2, out.minute)) return false; break;
      case 'S': {
        if (!digits(in, at, 2, 2, out.second)) return false;
        if (at < in.size() && (in[at] == '.' || in[at] == ',') && !(f + 1 < fmt.size() && fmt[f + 1] == in[at])) {
          const std::size_t begin = ++at;
          while (at < in.size() && in[at] >= '0' && in[at] <= '9') ++at;
          if (at == begin || at - begin > 9) return false;
          out.fraction = in.substr(begin, at - begin);
        }
        break;
      }
      case 'p': {
        const std::string_view ampm = in.substr(at, 2);
        if (iequals_lower(ampm, "am")) out.pm = 0;
        else if (iequals_lower(ampm, "pm")) out.pm = 1;
        else return false;
        at += 2;
        break;
      }
      case 'z':
        if (!zone_at(in, at, out.zone_minutes)) return false;
        out.has_zone = true;
        break;
      case '%':
        if (at >= in.size() || in[at] != '%') return false;
        ++at;
        break;
      default: return false;
    }
  }
  if (at != in.size() || out.year < 1) return false;
  if (out.hour12 >= 0) {
    if (out.hour12 < 1 || out.hour12 > 12 || out.pm < 0) return false;
    out.hour = out.hour12 % 12 + (out.pm == 1 ? 12 : 0);
  }
  return out.month >= 1 && out.month <= 12 && out.day >= 1 &&
         static_cast<unsigned>(out.day) <= days_in_month(out.year, static_cast<unsigned>(out.month)) &&
         out.hour <= 23 && out.minute <= 59 && out.second <= 59;
}

void two(std::string& out, unsigned v) {
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
}

bool write_time(const ValueSpec& spec, std::string_view cell, std::string& out) {
  for (const auto& format : spec.formats) {
    Parsed p;
    if (!parse_time(cell, format, p)) continue;
    const std::int64_t y = p.year;
    const auto m = static_cast<unsigned>(p.month), d = static_cast<unsigned>(p.day);
    if (spec.read == Read::date) {
      char text[32];
      std::snprintf(text, sizeof text, "\"%04d-%02u-%02u\"", p.year, m, d);
      out += text;
      return true;
    }
    const int offset = p.has_zone ? p.zone_minutes : spec.assumed_offset_minutes;
    std::int64_t seconds = days_from_civil(y, m, d) * 86400 + p.hour * 3600 + p.minute * 60 + p.second;
    seconds -= static_cast<std::int64_t>(offset) * 60;
    std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
    const auto in_day = static_cast<unsigned>(seconds - days * 86400);
    std::int64_t uy = 0;
    unsigned um = 0, ud = 0;
    civil_from_days(days, uy, um, ud);
    if (uy < 1 || uy > 9999) return false;
    char date[32];
    std::snprintf(date, sizeof date, "\"%04d-", static_cast<int>(uy));
    out += date;
    two(out, um);
    out += '-';
    two(out, ud);
    out += 'T';
    two(out, in_day / 3600);
    out += ':';
    two(out, in_day / 60 % 60);
    out += ':';
    two(out, in_day % 60);
    if (!p.fraction.empty()) {
      out += '.';
      out.append(p.fraction);
    }
    out += "Z\"";
    return true;
  }
  return false;
}

bool plain_decimal(std::string_view cell) {
  std::size_t i = cell[0] == '-' ? 1 : 0, int_digits = 0, frac_digits = 0;
  while (i < cell.size() && cell[i] >= '0' && cell[i] <= '9') ++i, ++int_digits;
  if (i < cell.size() && cell[i] == '.') {
    ++i;
    while (i < cell.size() && cell[i] >= '0' && cell[i] <= '9') ++i, ++frac_digits;
  }
  return i == cell.size() && int_digits + frac_digits > 0;
}

bool write_double(std::string_view cell, std::string& out) {
  double value = 0;
  const char* begin = cell.data() + (cell[0] == '+' ? 1 : 0);
  const auto [end, ec] = std::from_chars(begin, cell.data() + cell.size(), value);
  if (ec != std::errc() || end != cell.data() + cell.size() || !std::isfinite(value)) return false;
  json::write_number(out, value);
  return true;
}

}  // namespace

bool parse_zone(std::string_view zone, int& minutes) {
  std::size_t at = 0;
  return zone_at(zone, at, minutes) && at == zone.size();
}

std::string check_time_format(std::string_view pattern) {
  for (std::size_t f = 0; f < pattern.size(); ++f) {
    if (pattern[f] != '%') continue;
    if (++f >= pattern.size()) return "a pattern may not end with %";
    if (std::string_view("YmdHIMSpz%").find(pattern[f]) == std::string_view::npos)
      return std::string("unknown conversion %") + pattern[f] + " (known: %Y %m %d %H %I %M %S %p %z %%)";
  }
  if (pattern.find("%Y") == std::string_view::npos) return "a pattern needs %Y";
  return {};
}

Outcome write_value(const ValueSpec& spec, std::string_view cell, std::string& out, std::string& reason) {
  // A cell that is not UTF-8 (a file saved as Windows-1252, say) would make the record, and the push that carries
  // it, invalid JSON, which Ometria refuses as a whole. A bad value, then; the reason does not repeat its bytes.
  if (!simdjson::validate_utf8(cell.data(), cell.size())) {
    reason = "is not UTF-8 text (save the file as UTF-8)";
    return Outcome::invalid;
  }
  std::string_view text = cell;
  if (!spec.drop_prefix.empty() && text.substr(0, spec.drop_prefix.size()) == spec.drop_prefix) {
    text.remove_prefix(spec.drop_prefix.size());
    cell = text;
    if (text.empty()) return Outcome::skipped;
  }
  if (!spec.map.empty()) {
    bool found = false;
    for (const auto& [output, inputs] : spec.map) {
      for (const auto& input : inputs)
        if (iequals_lower(cell, input)) {
          text = output;
          found = true;
          break;
        }
      if (found) break;
    }
    if (!found) {
      if (spec.unmapped == Unmapped::skip) return Outcome::skipped;
      if (spec.unmapped == Unmapped::fail) {
        reason = quoted(cell) + " is not one of the values the table maps";
        return Outcome::invalid;
      }
    }
  }
  switch (spec.read) {
    case Read::string:
      if (spec.prefix.empty()) {
        json::write_string(out, text);
      } else {
        // One JSON string of both parts: the prefix's closing quote and the text's opening one are dropped.
        json::write_string(out, spec.prefix);
        out.pop_back();
        const std::size_t quote = out.size();
        json::write_string(out, text);
        out.erase(quote, 1);
      }
      return Outcome::written;
    case Read::number:
      if (write_double(text, out)) return Outcome::written;
      reason = quoted(cell) + " is not a number";
      return Outcome::invalid;
    case Read::money:
      if (plain_decimal(text) && write_double(text, out)) return Outcome::written;
      reason = quoted(cell) + " is not an amount (digits, an optional '-' and '.')";
      return Outcome::invalid;
    case Read::integer: {
      std::int64_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      // Ometria reads JSON numbers as doubles: beyond 2^53 an integer would silently change.
      if (ec == std::errc() && end == text.data() + text.size() && value <= (std::int64_t{1} << 53) &&
          value >= -(std::int64_t{1} << 53)) {
        char digits_out[24];
        const auto [e2, ec2] = std::to_chars(digits_out, digits_out + sizeof digits_out, value);
        (void)ec2;
        out.append(digits_out, e2);
        return Outcome::written;
      }
      reason = quoted(cell) + " is not a whole number";
      return Outcome::invalid;
    }
    case Read::boolean:
      for (const auto& word : spec.true_words)
        if (iequals_lower(text, word)) {
          out += "true";
          return Outcome::written;
        }
      for (const auto& word : spec.false_words)
        if (iequals_lower(text, word)) {
          out += "false";
          return Outcome::written;
        }
      reason = quoted(cell) + " is not one of the table's true or false words";
      return Outcome::invalid;
    case Read::timestamp:
    case Read::date:
      if (write_time(spec, text, out)) return Outcome::written;
      reason = quoted(cell) + " is not a " + (spec.read == Read::date ? "date" : "time") + " in the table's formats";
      return Outcome::invalid;
    case Read::currency:
      if (auto code = validate::iso4217_currency(text)) {
        json::write_string(out, *code);
        return Outcome::written;
      }
      reason = quoted(cell) + " is not an ISO 4217 currency code";
      return Outcome::invalid;
    case Read::phone:
      if (auto phone = validate::e164_phone(text)) {
        json::write_string(out, *phone);
        return Outcome::written;
      }
      reason = "not a valid phone number in international form (+...)";  // never quoted: personal data
      return Outcome::invalid;
  }
  return Outcome::invalid;
}

}  // namespace omt::import::csv
