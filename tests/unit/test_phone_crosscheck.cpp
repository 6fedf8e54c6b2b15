// e164_phone's fast path against libphonenumber itself (e164_phone_reference): every example number in the
// metadata, systematic perturbations of each, and seeded random digit strings behind known country codes must
// get exactly the same answer (same validity, same E.164). Also the small regex engine the fast path uses.
#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "omt/validate/validators.hpp"
#include "validate/digit_regex.hpp"
#include "validate/phone_internal.hpp"

namespace {

using omt::validate::e164_phone;
using omt::validate::detail::DigitRegex;
using omt::validate::detail::e164_phone_reference;
using omt::validate::detail::phone_example_numbers;

struct Mismatches {
  std::size_t checked = 0;
  std::size_t valid = 0;  // inputs libphonenumber accepts
  std::vector<std::string> examples;
  std::size_t count = 0;

  void check(const std::string& input) {
    ++checked;
    const auto fast = e164_phone(input);
    const auto reference = e164_phone_reference(input);
    if (reference) ++valid;
    if (fast == reference) return;
    ++count;
    if (examples.size() < 25) {
      examples.push_back("'" + input + "': fast " + fast.value_or("invalid") + ", libphonenumber " +
                         reference.value_or("invalid"));
    }
  }
  void expect_none() const {
    std::string listing;
    for (const auto& e : examples) listing += "\n  " + e;
    EXPECT_EQ(count, 0u) << "of " << checked << " inputs:" << listing;
  }
};

std::string digit_other_than(char d, int step) { return std::string(1, static_cast<char>('0' + (d - '0' + step) % 10)); }

// Perturbations of one example: each replacement of the last digit, each first national digit, dropping
// the first, a middle and the last national digit, adding each digit at the end and after the country code,
// a national prefix '0' or '1' written in, and a grouped spelling with brackets and dashes.
std::vector<std::string> perturbations(const std::string& cc, const std::string& nsn) {
  std::vector<std::string> out;
  const auto plus = [&](const std::string& national) { out.push_back("+" + cc + national); };
  plus(nsn);
  for (int step = 1; step < 10; ++step) {
    plus(nsn.substr(0, nsn.size() - 1) + digit_other_than(nsn.back(), step));
    plus(digit_other_than(nsn.front(), step) + nsn.substr(1));
  }
  plus(nsn.substr(1));
  plus(nsn.substr(0, nsn.size() / 2) + nsn.substr(nsn.size() / 2 + 1));
  plus(nsn.substr(0, nsn.size() - 1));
  for (char d = '0'; d <= '9'; ++d) {
    plus(nsn + d);
    plus(std::string(1, d) + nsn);
  }
  plus("0" + nsn);
  plus("00" + nsn);
  plus("1" + nsn);
  plus("9" + nsn);
  out.push_back("+" + cc + " (0) " + nsn.substr(0, 2) + "-" + nsn.substr(2));
  out.push_back("  +" + cc + "." + nsn + " ");
  return out;
}

TEST(E164PhoneCrossCheck, ExampleNumbersAndPerturbationsAgreeWithLibphonenumber) {
  const auto examples = phone_example_numbers();
  ASSERT_GT(examples.size(), 1000u);  // 245 regions with several types each, plus non-geographical entities
  Mismatches mismatches;
  std::size_t valid_examples = 0;
  for (const auto& example : examples) {
    ASSERT_GE(example.national_number.size(), 2u) << example.country_code;
    // Every example is valid as written, and the fast path must say so.
    if (e164_phone("+" + example.country_code + example.national_number).has_value()) ++valid_examples;
    for (const auto& input : perturbations(example.country_code, example.national_number)) mismatches.check(input);
  }
  std::cout << "[ cross-check ] " << examples.size() << " example numbers, " << mismatches.checked
            << " inputs compared, " << mismatches.valid << " of them valid\n";
  EXPECT_GT(mismatches.checked, 50000u);
  EXPECT_GT(mismatches.valid, 5000u);
  EXPECT_EQ(valid_examples, examples.size());
  mismatches.expect_none();
}

TEST(E164PhoneCrossCheck, RandomNumbersBehindEveryCountryCodeAgree) {
  // Seeded, so a failure reproduces. Country codes from the examples (all geographic and global codes).
  std::vector<std::string> codes;
  for (const auto& example : phone_example_numbers()) {
    if (codes.empty() || codes.back() != example.country_code) codes.push_back(example.country_code);
  }
  std::mt19937_64 random(20240501);
  Mismatches mismatches;
  for (int i = 0; i < 30000; ++i) {
    const std::string& cc = codes[random() % codes.size()];
    const std::size_t length = 1 + random() % 16;
    std::string national;
    for (std::size_t k = 0; k < length; ++k) national.push_back(static_cast<char>('0' + random() % 10));
    mismatches.check("+" + cc + national);
  }
  // Unknown and partial country codes, too short and too long inputs.
  for (int i = 0; i < 5000; ++i) {
    const std::size_t length = 1 + random() % 22;
    std::string digits;
    for (std::size_t k = 0; k < length; ++k) digits.push_back(static_cast<char>('0' + random() % 10));
    mismatches.check("+" + digits);
  }
  std::cout << "[ cross-check ] " << mismatches.checked << " random inputs compared, " << mismatches.valid
            << " of them valid\n";
  mismatches.expect_none();
}

TEST(E164PhoneCrossCheck, NationalPrefixRulesAgree) {
  // Written-in national prefixes, carrier codes and transform rules (libphonenumber strips these even after
  // a '+'), and regions sharing a calling code, chosen by leading digits or by number type.
  const std::vector<std::string> inputs = {
      "+44 (0) 20 7946 0958", "+44 0 7400 123456",  "+44 1481 256789",    "+44 01481 256789",  "+44 7781 123456",
      "+1 268 464 1234",      "+1 1 268 464 1234",  "+1 464 1234",        "+1 1 415 555 2671", "+1 11 415 555 2671",
      "+55 0 15 11 91234 5678", "+55 90 15 11 91234 5678", "+55 0 11 91234 5678", "+55 11 91234 5678",
      "+54 9 11 1234 5678",   "+54 0 11 15 1234 5678", "+54 11 15 1234 5678", "+54 0 351 15 123 4567",
      "+241 0 6 03 12 34",    "+241 06 03 12 34",   "+241 6 03 12 34",    "+672 3 12 345",     "+672 12 345",
      "+378 0549 123456",     "+378 88 12 34",      "+61 8 9162 1234",    "+61 0 412 345 678", "+61 412 345 678",
      "+7 8 912 345 67 89",   "+7 701 234 5678",    "+7 700 000 0000",    "+39 06 1234 5678",  "+39 0 06 1234 5678",
      "+39 312 345 6789",     "+262 269 61 12 34",  "+262 639 12 34 56",  "+590 690 00 12 34", "+599 9 123 4567",
      "+47 22 12 34 56",      "+47 79 12 34 56",    "+358 18 1234 567",   "+212 528 12 34 56", "+800 1234 5678",
      "+882 3 1234 5678",     "+883 5100 1234 5678", "+979 1234 5678",    "+870 773 111 632",  "+881 6 1234 5678",
  };
  Mismatches mismatches;
  for (const auto& input : inputs) mismatches.check(input);
  mismatches.expect_none();
}

TEST(E164PhoneCrossCheck, EveryCountryCodeUsesTheFastPath) {
  // The engine reproduces every pattern in this libphonenumber's metadata; a newer metadata release using
  // syntax it does not know would be answered by libphonenumber (still correct, but slow) and show up here.
  EXPECT_TRUE(omt::validate::detail::phone_codes_using_reference().empty());
}

// ------------------------------------------------------------------------------------------ DigitRegex

TEST(DigitRegex, FullAndPrefixMatchOverDigits) {
  auto regex = DigitRegex::compile(R"((?:1[0-8]|2\d)\d{3,4}|3(?:4[5-7]|[^0-8])?0*)");
  ASSERT_TRUE(regex.has_value());
  ASSERT_TRUE(regex->build_dfa());
  EXPECT_TRUE(regex->full_match("10123"));
  EXPECT_TRUE(regex->full_match("291234"));
  EXPECT_FALSE(regex->full_match("19123"));
  EXPECT_FALSE(regex->full_match("1012"));
  EXPECT_FALSE(regex->full_match("1012345"));
  EXPECT_TRUE(regex->full_match("3"));
  EXPECT_TRUE(regex->full_match("34600"));
  EXPECT_TRUE(regex->full_match("390"));
  EXPECT_FALSE(regex->full_match("380"));
  EXPECT_TRUE(regex->prefix_match("1012399999"));
  EXPECT_FALSE(regex->prefix_match("1"));
  EXPECT_TRUE(regex->prefix_match("38"));  // "3" alone matches
}

TEST(DigitRegex, LookingAtFollowsPerlPriorityAndCaptures) {
  auto alternatives = DigitRegex::compile("0|80?");
  ASSERT_TRUE(alternatives.has_value());
  DigitRegex::Match match;
  ASSERT_EQ(alternatives->looking_at("8012", match), DigitRegex::Outcome::matched);
  EXPECT_EQ(match.end, 2);
  ASSERT_EQ(alternatives->looking_at("0812", match), DigitRegex::Outcome::matched);
  EXPECT_EQ(match.end, 1);
  EXPECT_EQ(alternatives->looking_at("912", match), DigitRegex::Outcome::no_match);

  // Antigua's national prefix rule: a leading 1, or a whole 7-digit local number captured for "268$1".
  auto nanp = DigitRegex::compile(R"(1|([457]\d{6})$)");
  ASSERT_TRUE(nanp.has_value());
  EXPECT_EQ(nanp->group_count(), 1);
  ASSERT_EQ(nanp->looking_at("4641234", match), DigitRegex::Outcome::matched);
  EXPECT_EQ(match.end, 7);
  EXPECT_EQ(match.group("4641234", 1), "4641234");
  EXPECT_EQ(nanp->looking_at("46412345", match), DigitRegex::Outcome::no_match);  // '$' fails
  ASSERT_EQ(nanp->looking_at("12684641234", match), DigitRegex::Outcome::matched);
  EXPECT_EQ(match.end, 1);
  EXPECT_EQ(match.group("12684641234", 1), "");  // group 1 did not take part

  auto lazy = DigitRegex::compile(R"((\d{2,4}?)(\d*))");
  ASSERT_TRUE(lazy.has_value());
  ASSERT_EQ(lazy->looking_at("123456", match), DigitRegex::Outcome::matched);
  EXPECT_EQ(match.group("123456", 1), "12");
  EXPECT_EQ(match.group("123456", 2), "3456");
}

TEST(DigitRegex, RefusesWhatItDoesNotImplement) {
  for (const char* pattern : {"a", ".", "^1", "(?=1)", "\\1", "[a-z]", "1{2", "(1", "1)", "1++", "[]", "\\w"}) {
    SCOPED_TRACE(pattern);
    EXPECT_FALSE(DigitRegex::compile(pattern).has_value());
  }
  auto anchored = DigitRegex::compile("1$");
  ASSERT_TRUE(anchored.has_value());
  EXPECT_FALSE(anchored->build_dfa());  // '$' is for looking_at() only
}

}  // namespace
