// Small ASCII helpers shared by the validators (internal to src/validate). Locale-independent on purpose:
// <cctype> depends on the global C locale, and input bytes >= 0x80 must never count as letters.
#pragma once

#include <string_view>

namespace omt::validate::ascii {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr char to_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// White space and trim: omt/core/text.hpp (one notion of white space for the whole project).

}  // namespace omt::validate::ascii
