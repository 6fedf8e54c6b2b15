// e164_phone: a strict pre-filter (international form only, no letters, bounded length) in front of
// libphonenumber's Parse + IsValidNumber, answering in E.164.
#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include "ascii.hpp"
#include "omt/validate/validators.hpp"

namespace omt::validate {
namespace {

// Longest accepted input after trimming. E.164 has at most 15 digits; 40 bytes leave room for a '+',
// grouping spaces, dashes and brackets, and keep libphonenumber away from huge or adversarial strings.
constexpr std::size_t kMaxPhoneBytes = 40;

// Only a leading '+' followed by digits and the usual separators. Letters are refused because
// libphonenumber maps vanity letters ("+1 800 FLOWERS") to digits and accepts "ext."/"x" extensions;
// non-ASCII bytes are refused because it also normalises full-width and other Unicode digits.
bool looks_international(std::string_view s) noexcept {
  if (s.size() < 2 || s.size() > kMaxPhoneBytes || s.front() != '+') return false;
  bool has_digit = false;
  for (char c : s.substr(1)) {
    if (ascii::is_digit(c)) {
      has_digit = true;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return false;
    }
  }
  return has_digit;
}

}  // namespace

std::optional<std::string> e164_phone(std::string_view input) {
  const std::string_view candidate = ascii::trim(input);
  if (!looks_international(candidate)) return std::nullopt;
  try {
    // GetInstance() is a thread-safe singleton; Parse, IsValidNumber and Format are const.
    const auto& util = *i18n::phonenumbers::PhoneNumberUtil::GetInstance();
    i18n::phonenumbers::PhoneNumber number;
    // "ZZ" (unknown region): the number must carry its own country calling code, which the '+' ensures.
    if (util.Parse(std::string(candidate), "ZZ", &number) != i18n::phonenumbers::PhoneNumberUtil::NO_PARSING_ERROR) {
      return std::nullopt;
    }
    if (!util.IsValidNumber(number)) return std::nullopt;
    std::string e164;
    util.Format(number, i18n::phonenumbers::PhoneNumberUtil::E164, &e164);
    return e164;
  } catch (...) {
    // libphonenumber reports errors by value; only allocation failure could land here. Invalid, not fatal.
    return std::nullopt;
  }
}

}  // namespace omt::validate
