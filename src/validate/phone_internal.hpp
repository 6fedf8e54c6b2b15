// Internals of e164_phone (src/validate), shared with the tests: the libphonenumber-based reference that the
// fast path must agree with, libphonenumber's example numbers to cross-check them on, and which country calling
// codes the fast path hands to the reference because their metadata could not be compiled.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omt::validate::detail {

// The strict pre-filter (trimmed; '+', then digits and ' ', '-', '.', '(', ')'; at most 40 bytes): the
// trimmed candidate, or nullopt.
std::optional<std::string_view> international_candidate(std::string_view input) noexcept;

// e164_phone answered by libphonenumber itself: Parse(candidate, "ZZ") + IsValidNumber + Format(E164).
std::optional<std::string> e164_phone_reference(std::string_view input);

// Every example number in libphonenumber's metadata: each supported region and each number type it has an
// example for (GetExampleNumberForType), and each non-geographical entity's examples.
struct PhoneExample {
  std::string country_code;     // "44"
  std::string national_number;  // "2012345678" (national significant number, leading zeros kept)
};
std::vector<PhoneExample> phone_example_numbers();

// Country calling codes whose metadata the fast path could not compile (it defers to the reference for them).
std::vector<int> phone_codes_using_reference();

}  // namespace omt::validate::detail
