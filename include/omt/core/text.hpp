// Small ASCII text helpers for protocol and configuration text (HTTP headers, config values, CLI lines):
// white space and trimming, case-insensitive comparison of header / scheme names, percent-decoding of paths
// and query strings. Pure and locale-independent: bytes >= 0x80 are never white space or letters.
// (JavaScript's String.prototype.trim, with Unicode white space, is another idea: ometria/js_string.hpp.)
#pragma once

#include <string>
#include <string_view>

namespace omt::text {

// ASCII white space, as C's isspace in the "C" locale: space, \t, \n, \v, \f, \r. Covers HTTP's OWS
// (space, tab) and the line ends of text read from files.
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The text without leading and trailing ASCII white space (a view into the same bytes).
constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%41" -> "A"; a malformed escape is kept as written. plus_is_space: '+' -> ' ' (query strings, not paths).
inline std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (plus_is_space && s[i] == '+') {
      out += ' ';
      continue;
    }
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace omt::text
