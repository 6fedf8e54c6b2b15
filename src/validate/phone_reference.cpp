// The libphonenumber-based answers: the reference e164_phone (Parse + IsValidNumber + Format, about 40 us a
// call with Debian's ICU-regex build) and the example numbers the cross-check test runs on.
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <set>

#include "ascii.hpp"
#include "omt/core/text.hpp"
#include "phone_internal.hpp"
#include "phone_metadata.hpp"

namespace omt::validate::detail {
namespace {

// Longest accepted input after trimming. E.164 has at most 15 digits; 40 bytes leave room for a '+',
// grouping spaces, dashes and brackets, and keep libphonenumber away from huge or adversarial strings.
constexpr std::size_t kMaxPhoneBytes = 40;

using i18n::phonenumbers::PhoneNumberUtil;

}  // namespace

// Only a leading '+' followed by digits and the usual separators. Letters are refused because
// libphonenumber maps vanity letters ("+1 800 FLOWERS") to digits and accepts "ext."/"x" extensions;
// non-ASCII bytes are refused because it also normalises full-width and other Unicode digits.
std::optional<std::string_view> international_candidate(std::string_view input) noexcept {
  const std::string_view s = text::trim(input);
  if (s.size() < 2 || s.size() > kMaxPhoneBytes || s.front() != '+') return std::nullopt;
  bool has_digit = false;
  for (char c : s.substr(1)) {
    if (ascii::is_digit(c)) {
      has_digit = true;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return std::nullopt;
    }
  }
  if (!has_digit) return std::nullopt;
  return s;
}

std::optional<std::string> e164_phone_reference(std::string_view input) {
  const auto candidate = international_candidate(input);
  if (!candidate) return std::nullopt;
  try {
    // GetInstance() is a thread-safe singleton; Parse, IsValidNumber and Format are const.
    const auto& util = *PhoneNumberUtil::GetInstance();
    i18n::phonenumbers::PhoneNumber number;
    // "ZZ" (unknown region): the number must carry its own country calling code, which the '+' ensures.
    if (util.Parse(std::string(*candidate), "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
      return std::nullopt;
    }
    if (!util.IsValidNumber(number)) return std::nullopt;
    std::string e164;
    util.Format(number, PhoneNumberUtil::E164, &e164);
    return e164;
  } catch (...) {
    // libphonenumber reports errors by value; only allocation failure could land here. Invalid, not fatal.
    return std::nullopt;
  }
}

std::vector<PhoneExample> phone_example_numbers() {
  const auto& util = *PhoneNumberUtil::GetInstance();
  std::vector<PhoneExample> out;
  std::set<std::string> regions;
  util.GetSupportedRegions(&regions);
  for (const std::string& region : regions) {
    std::set<PhoneNumberUtil::PhoneNumberType> types;
    util.GetSupportedTypesForRegion(region, &types);
    for (const auto type : types) {
      i18n::phonenumbers::PhoneNumber number;
      if (!util.GetExampleNumberForType(region, type, &number)) continue;
      std::string national;
      util.GetNationalSignificantNumber(number, &national);
      out.push_back({std::to_string(number.country_code()), std::move(national)});
    }
  }
  // Non-geographical entities (+800, +882, ...): the public API gives one example each, so read every
  // type's example from the metadata itself.
  i18n::phonenumbers::PhoneMetadataCollection collection;
  if (!load_phone_metadata(collection)) return out;
  for (const auto& metadata : collection.metadata()) {
    if (metadata.id() != "001") continue;
    const i18n::phonenumbers::PhoneNumberDesc* descs[] = {
        &metadata.fixed_line(), &metadata.mobile(), &metadata.toll_free(),       &metadata.premium_rate(),
        &metadata.shared_cost(), &metadata.voip(),  &metadata.personal_number(), &metadata.pager(),
        &metadata.uan(),         &metadata.voicemail()};
    for (const auto* desc : descs) {
      if (desc->has_example_number()) {
        out.push_back({std::to_string(metadata.country_code()), desc->example_number()});
      }
    }
  }
  return out;
}

}  // namespace omt::validate::detail
