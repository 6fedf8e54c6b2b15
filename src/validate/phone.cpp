// e164_phone: the strict pre-filter, then libphonenumber's own Parse("ZZ") + IsValidNumber decision replayed
// over its own compiled-in metadata, with the patterns compiled once into digit DFAs. libphonenumber 8.12 with
// ICU regexes spends ~40 us a call in regex objects and a mutex-guarded cache; this path takes a few hundred
// nanoseconds. The facts replayed (phonenumberutil.cc, 8.12):
//  - Parse: after '+', all digits (separators dropped); fewer than 3 -> error. Country calling code: the first
//    of the 1-, 2-, 3-digit prefixes that is a known code (none, or a leading 0 -> error). The rest is the
//    national number; under 2 digits -> error. The national prefix is then stripped with the *main* region's
//    national_prefix_for_parsing / national_prefix_transform_rule (MaybeStripNationalPrefixAndCarrierCode),
//    kept only if the result's length tests IS_POSSIBLE or TOO_LONG against the general description
//    (TestNumberLength). Then 2..17 digits or error. Leading zeros are kept (italian_leading_zero).
//  - IsValidNumber: region = the only region of the code, else the first (main country first) whose
//    leading_digits match a prefix or, without leading_digits, for which the number has a type; then the
//    number is valid when its type for that region is not UNKNOWN (GetNumberTypeHelper, IsNumberMatchingDesc:
//    possible lengths first, then a full match of national_number_pattern).
// Country codes whose metadata uses anything this engine does not reproduce are answered by the reference.
#include <array>
#include <list>
#include <memory>
#include <set>
#include <unordered_map>

#include <phonenumbers/phonenumberutil.h>

#include "digit_regex.hpp"
#include "omt/validate/validators.hpp"
#include "phone_internal.hpp"
#include "phone_metadata.hpp"

namespace omt::validate {
namespace detail {
namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneNumberDesc;

constexpr std::size_t kMinNsnLength = 2;   // PhoneNumberUtil::kMinLengthForNsn
constexpr std::size_t kMaxNsnLength = 17;  // PhoneNumberUtil::kMaxLengthForNsn
constexpr int kMaxCountryCode = 999;
constexpr std::size_t kNumberBuffer = 96;  // digits of a 40-byte input, or a transformed national number

// One PhoneNumberDesc: the possible lengths (checked first) and the national number pattern.
struct DescRule {
  bool has_lengths = false;
  std::uint64_t length_bits = 0;          // bit n: n digits is a possible length
  const DigitRegex* pattern = nullptr;  // nullptr: empty pattern, which never matches

  bool matches(std::string_view nsn) const noexcept {
    if (has_lengths && (nsn.size() >= 64 || ((length_bits >> nsn.size()) & 1u) == 0)) return false;
    return pattern != nullptr && pattern->full_match(nsn);
  }
};

struct RegionRule {
  bool has_leading_digits = false;
  const DigitRegex* leading_digits = nullptr;
  DescRule general, premium_rate, toll_free, shared_cost, voip, personal_number, pager, uan, voicemail, fixed_line,
      mobile;
  bool same_mobile_and_fixed_line = false;

  // GetNumberTypeHelper(nsn) != UNKNOWN.
  bool has_type(std::string_view nsn) const noexcept {
    if (!general.matches(nsn)) return false;
    if (premium_rate.matches(nsn) || toll_free.matches(nsn) || shared_cost.matches(nsn) || voip.matches(nsn) ||
        personal_number.matches(nsn) || pager.matches(nsn) || uan.matches(nsn) || voicemail.matches(nsn) ||
        fixed_line.matches(nsn)) {
      return true;
    }
    return !same_mobile_and_fixed_line && mobile.matches(nsn);
  }
};

// TestNumberLength's answers that matter here.
enum class LengthVerdict : std::uint8_t { possible, local_only, too_short, too_long, invalid };

struct CountryRule {
  std::string code_digits;
  std::vector<RegionRule> regions;  // libphonenumber's order: main country first
  // The main region's national-prefix data, which Parse uses for any number with this code.
  const DigitRegex* national_prefix = nullptr;  // nullptr: no national_prefix_for_parsing
  std::string transform_rule;
  const DigitRegex* general_pattern = nullptr;  // the main region's general_desc pattern (IsMatch: no lengths)
  std::vector<int> possible_lengths;            // the main region's general_desc, in metadata order
  std::vector<int> local_only_lengths;
  bool use_reference = false;

  LengthVerdict test_length(std::size_t length) const noexcept {
    const int actual = static_cast<int>(length);
    if (possible_lengths.front() == -1) return LengthVerdict::invalid;
    for (int local : local_only_lengths) {
      if (local == actual) return LengthVerdict::local_only;
    }
    if (possible_lengths.front() == actual) return LengthVerdict::possible;
    if (possible_lengths.front() > actual) return LengthVerdict::too_short;
    if (possible_lengths.back() < actual) return LengthVerdict::too_long;
    for (std::size_t i = 1; i < possible_lengths.size(); ++i) {
      if (possible_lengths[i] == actual) return LengthVerdict::possible;
    }
    return LengthVerdict::invalid;
  }

  bool general_matches(std::string_view digits) const noexcept {
    return general_pattern != nullptr && general_pattern->full_match(digits);
  }
};

// A transform rule ("$1", "9$1", "0549$1") as ICU's appendReplacement reads it: literal digits and $n, where
// n takes as many digits as still name an existing group. False for anything else.
bool apply_transform(std::string_view rule, const DigitRegex::Match& match, int group_count,
                     std::string_view digits, std::string* out_or_null) {
  for (std::size_t i = 0; i < rule.size();) {
    const char c = rule[i];
    if (c >= '0' && c <= '9') {
      if (out_or_null) out_or_null->push_back(c);
      ++i;
      continue;
    }
    if (c != '$' || i + 1 >= rule.size() || rule[i + 1] < '0' || rule[i + 1] > '9') return false;
    int group = rule[i + 1] - '0';
    i += 2;
    while (i < rule.size() && rule[i] >= '0' && rule[i] <= '9' && group * 10 + (rule[i] - '0') <= group_count) {
      group = group * 10 + (rule[i] - '0');
      ++i;
    }
    if (group > group_count) return false;
    if (out_or_null) out_or_null->append(match.group(digits, group));
  }
  return true;
}

class PhoneRules {
 public:
  PhoneRules() {
    i18n::phonenumbers::PhoneMetadataCollection collection;
    if (!load_phone_metadata(collection)) return;  // every code then goes to the reference
    std::unordered_map<std::string, const PhoneMetadata*> by_region;
    std::unordered_map<int, const PhoneMetadata*> non_geographical;
    for (const PhoneMetadata& metadata : collection.metadata()) {
      if (metadata.id() == "001") {
        non_geographical[metadata.country_code()] = &metadata;
      } else {
        by_region[metadata.id()] = &metadata;
      }
    }
    const auto& util = *i18n::phonenumbers::PhoneNumberUtil::GetInstance();
    std::set<int> codes;
    util.GetSupportedCallingCodes(&codes);
    for (int code : codes) {
      if (code <= 0 || code > kMaxCountryCode) continue;
      std::list<std::string> region_codes;
      util.GetRegionCodesForCountryCallingCode(code, &region_codes);
      auto country = std::make_unique<CountryRule>();
      country->code_digits = std::to_string(code);
      const PhoneMetadata* main = nullptr;
      for (const std::string& region : region_codes) {
        const PhoneMetadata* metadata = nullptr;
        if (region == "001") {
          auto it = non_geographical.find(code);
          if (it != non_geographical.end()) metadata = it->second;
        } else if (auto it = by_region.find(region); it != by_region.end()) {
          metadata = it->second;
        }
        if (metadata == nullptr || (region == "001" && region_codes.size() > 1)) {
          country->use_reference = true;
          break;
        }
        if (main == nullptr) main = metadata;
        country->regions.push_back(region_rule(*metadata, country->use_reference));
      }
      if (main == nullptr) country->use_reference = true;
      if (!country->use_reference) main_region_parsing(*main, *country);
      if (country->use_reference) codes_using_reference_.push_back(code);
      countries_[static_cast<std::size_t>(code)] = std::move(country);
    }
  }

  // Null: libphonenumber does not know this calling code.
  const CountryRule* country(int code) const noexcept {
    return code > 0 && code <= kMaxCountryCode ? countries_[static_cast<std::size_t>(code)].get() : nullptr;
  }
  const std::vector<int>& codes_using_reference() const noexcept { return codes_using_reference_; }

 private:
  // Compiled once per distinct pattern text; nullptr (and `failed`) when the engine cannot reproduce it.
  const DigitRegex* pattern(const std::string& text, bool with_dfa, bool& failed) {
    const std::string key = (with_dfa ? "D" : "B") + text;
    auto it = patterns_.find(key);
    if (it == patterns_.end()) {
      std::unique_ptr<DigitRegex> compiled;
      if (auto regex = DigitRegex::compile(text)) {
        if (!with_dfa || regex->build_dfa()) compiled = std::make_unique<DigitRegex>(std::move(*regex));
      }
      it = patterns_.emplace(key, std::move(compiled)).first;
    }
    if (!it->second) failed = true;
    return it->second.get();
  }

  DescRule desc_rule(const PhoneNumberDesc& desc, bool& failed) {
    DescRule rule;
    rule.has_lengths = desc.possible_length_size() > 0;
    for (int length : desc.possible_length()) {
      if (length >= 0 && length < 64) rule.length_bits |= std::uint64_t{1} << length;
    }
    if (!desc.national_number_pattern().empty()) rule.pattern = pattern(desc.national_number_pattern(), true, failed);
    return rule;
  }

  RegionRule region_rule(const PhoneMetadata& metadata, bool& failed) {
    RegionRule rule;
    rule.has_leading_digits = metadata.has_leading_digits();
    if (rule.has_leading_digits) rule.leading_digits = pattern(metadata.leading_digits(), true, failed);
    rule.general = desc_rule(metadata.general_desc(), failed);
    rule.premium_rate = desc_rule(metadata.premium_rate(), failed);
    rule.toll_free = desc_rule(metadata.toll_free(), failed);
    rule.shared_cost = desc_rule(metadata.shared_cost(), failed);
    rule.voip = desc_rule(metadata.voip(), failed);
    rule.personal_number = desc_rule(metadata.personal_number(), failed);
    rule.pager = desc_rule(metadata.pager(), failed);
    rule.uan = desc_rule(metadata.uan(), failed);
    rule.voicemail = desc_rule(metadata.voicemail(), failed);
    rule.fixed_line = desc_rule(metadata.fixed_line(), failed);
    rule.mobile = desc_rule(metadata.mobile(), failed);
    rule.same_mobile_and_fixed_line = metadata.same_mobile_and_fixed_line_pattern();
    return rule;
  }

  void main_region_parsing(const PhoneMetadata& main, CountryRule& country) {
    bool failed = false;
    const auto& general = main.general_desc();
    if (!general.national_number_pattern().empty()) {
      country.general_pattern = pattern(general.national_number_pattern(), true, failed);
    }
    country.possible_lengths.assign(general.possible_length().begin(), general.possible_length().end());
    country.local_only_lengths.assign(general.possible_length_local_only().begin(),
                                      general.possible_length_local_only().end());
    if (country.possible_lengths.empty()) failed = true;  // TestNumberLength would read past the end
    if (!main.national_prefix_for_parsing().empty()) {
      country.national_prefix = pattern(main.national_prefix_for_parsing(), false, failed);
      country.transform_rule = main.national_prefix_transform_rule();
      if (country.national_prefix != nullptr && !country.transform_rule.empty() &&
          !apply_transform(country.transform_rule, DigitRegex::Match{}, country.national_prefix->group_count(), {},
                           nullptr)) {
        failed = true;
      }
    }
    if (failed) country.use_reference = true;
  }

  std::array<std::unique_ptr<CountryRule>, kMaxCountryCode + 1> countries_;
  std::unordered_map<std::string, std::unique_ptr<DigitRegex>> patterns_;
  std::vector<int> codes_using_reference_;
};

const PhoneRules& phone_rules() {
  static const PhoneRules rules;  // thread-safe initialisation; read-only afterwards
  return rules;
}

// ParseHelper's national-prefix step on `national` (the digits after the country code): `result` becomes the
// national number to go on with, a view of `national` or of `storage`. False only when the prefix search went
// over its budget (the caller then asks libphonenumber).
bool strip_national_prefix(const CountryRule& country, std::string_view national, std::string& storage,
                           std::string_view& result) {
  result = national;
  if (country.national_prefix == nullptr) return true;
  DigitRegex::Match match;
  switch (country.national_prefix->looking_at(national, match)) {
    case DigitRegex::Outcome::too_costly:
      return false;
    case DigitRegex::Outcome::no_match:
      return true;
    case DigitRegex::Outcome::matched:
      break;
  }
  const bool viable_original = country.general_matches(national);
  const int groups = country.national_prefix->group_count();
  // With two or more groups the carrier code is group 1 and the part to keep group 2; with one, group 1.
  const std::string_view captured =
      groups >= 2 ? match.group(national, 2) : (groups == 1 ? match.group(national, 1) : std::string_view{});
  std::string_view potential;
  if (!country.transform_rule.empty() && !captured.empty()) {
    storage.clear();
    apply_transform(country.transform_rule, match, groups, national, &storage);
    storage.append(national.substr(static_cast<std::size_t>(match.end)));
    potential = storage;
  } else {
    potential = national.substr(static_cast<std::size_t>(match.end));
  }
  // Not when it turns a number that fits the general pattern into one that does not, nor when the rest is
  // too short (or only locally diallable) to be a number of this country.
  if (viable_original && !country.general_matches(potential)) return true;
  const LengthVerdict length = country.test_length(potential.size());
  if (length == LengthVerdict::possible || length == LengthVerdict::too_long) result = potential;
  return true;
}

// GetRegionCodeForNumber + IsValidNumberForRegion.
bool is_valid_national_number(const CountryRule& country, std::string_view nsn) noexcept {
  if (country.regions.size() == 1) return country.regions.front().has_type(nsn);
  for (const RegionRule& region : country.regions) {
    if (region.has_leading_digits) {
      if (region.leading_digits->prefix_match(nsn)) return region.has_type(nsn);
    } else if (region.has_type(nsn)) {
      return true;
    }
  }
  return false;  // region "ZZ": never valid
}

enum class Verdict : std::uint8_t { invalid, valid, ask_reference };

// Writes the E.164 form when valid.
Verdict fast_e164(std::string_view candidate, std::string& e164) {
  std::array<char, kNumberBuffer> digits_buffer{};
  std::size_t count = 0;
  for (char c : candidate) {
    if (c >= '0' && c <= '9' && count < digits_buffer.size()) digits_buffer[count++] = c;
  }
  const std::string_view digits(digits_buffer.data(), count);
  // TOO_SHORT_AFTER_IDD (and IsViablePhoneNumber's three digits), then ExtractCountryCode.
  if (digits.size() <= kMinNsnLength || digits.front() == '0') return Verdict::invalid;
  const PhoneRules& rules = phone_rules();
  const CountryRule* country = nullptr;
  std::size_t code_length = 0;
  for (int code = 0; code_length < 3 && country == nullptr;) {
    code = code * 10 + (digits[code_length++] - '0');
    country = rules.country(code);
  }
  if (country == nullptr) return Verdict::invalid;
  if (country->use_reference) return Verdict::ask_reference;
  std::string_view national = digits.substr(code_length);
  if (national.size() < kMinNsnLength) return Verdict::invalid;
  std::string storage;  // only a transform rule (e.g. "268$1" for Antigua's local numbers) writes to it
  if (!strip_national_prefix(*country, national, storage, national)) return Verdict::ask_reference;
  if (national.size() < kMinNsnLength || national.size() > kMaxNsnLength) return Verdict::invalid;
  if (!is_valid_national_number(*country, national)) return Verdict::invalid;
  e164.reserve(1 + country->code_digits.size() + national.size());
  e164.push_back('+');
  e164.append(country->code_digits);
  e164.append(national);
  return Verdict::valid;
}

}  // namespace

std::vector<int> phone_codes_using_reference() { return phone_rules().codes_using_reference(); }

}  // namespace detail

std::optional<std::string> e164_phone(std::string_view input) {
  const auto candidate = detail::international_candidate(input);
  if (!candidate) return std::nullopt;
  try {
    std::string e164;
    switch (detail::fast_e164(*candidate, e164)) {
      case detail::Verdict::valid:
        return e164;
      case detail::Verdict::invalid:
        return std::nullopt;
      case detail::Verdict::ask_reference:
        break;
    }
    return detail::e164_phone_reference(*candidate);
  } catch (...) {
    // Only allocation failure (or a metadata load failure deep in libphonenumber) could land here.
    return std::nullopt;
  }
}

}  // namespace omt::validate
