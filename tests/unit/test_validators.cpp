// Table-driven tests for the field validators (e164_phone, is_iso8601_datetime, iso4217_currency), including
// hostile input: huge strings, invalid UTF-8, NUL bytes, white space only.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "omt/validate/validators.hpp"

namespace {

using namespace std::string_literals;  // "..."s keeps embedded NUL bytes
using omt::validate::e164_phone;
using omt::validate::is_iso8601_datetime;
using omt::validate::iso4217_currency;

struct NormaliseCase {
  std::string input;
  std::optional<std::string> expected;  // nullopt: invalid
};

// Printable description for SCOPED_TRACE / test names: escapes control and non-ASCII bytes, truncates.
std::string describe(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 48; ++i) {
    const auto byte = static_cast<unsigned char>(s[i]);
    if (byte < 0x20 || byte >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += static_cast<char>(byte);
    }
  }
  if (s.size() > 48) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// ---------------------------------------------------------------------------------------------- e164_phone

const std::vector<NormaliseCase> kPhoneCases = {
    // Valid international numbers, normalised to E.164.
    {"+44 20 7946 0958", "+442079460958"},
    {"+1 (415) 555-2671", "+14155552671"},
    {"+14155552671", "+14155552671"},
    {"+1.415.555.2671", "+14155552671"},
    {"+4930123456", "+4930123456"},
    {"+911234567890", "+911234567890"},
    {"+919876543210", "+919876543210"},
    {"  +44 20 7946 0958\t\n", "+442079460958"},  // surrounding ASCII white space is trimmed
    {"+44 (0) 20 7946 0958", "+442079460958"},    // national trunk prefix in brackets is dropped
    // Invalid.
    {"+44 7700 900123", std::nullopt},   // Ofcom's fictional drama range
    {"+123451212260", std::nullopt},     // no such country calling code
    {"07911123456", std::nullopt},       // national form: no '+'
    {"0044 20 7946 0958", std::nullopt}, // international prefix instead of '+'
    {"+1 800 FLOWERS", std::nullopt},    // vanity letters
    {"+44 20 7946 0958 ext. 12", std::nullopt},
    {"+44 20 7946 0958 x12", std::nullopt},
    {"+", std::nullopt},
    {"+ - ( ) .", std::nullopt},
    {"++44 20 7946 0958", std::nullopt},
    {"+44+20 7946 0958", std::nullopt},
    {"+1", std::nullopt},
    {"+1415555267112345678901234", std::nullopt},   // too many digits
    {"+44\t20\t7946\t0958", std::nullopt},          // tabs are not separators
    {"tel:+442079460958", std::nullopt},
    {"", std::nullopt},
    {" \t\r\n ", std::nullopt},
    // Hostile bytes.
    {"+44 20 7946 0958\0"s, std::nullopt},
    {"+44 20\0 7946 0958"s, std::nullopt},
    {"+\xef\xbc\x94\xef\xbc\x94 20 7946 0958", std::nullopt},  // full-width digits (libphonenumber maps them)
    {"+\xd9\xa4\xd9\xa4 20 7946 0958", std::nullopt},          // Arabic-Indic digits
    {"+44 20 7946 \xff\xfe", std::nullopt},                     // invalid UTF-8
    {"+44 20 7946 0958" + std::string(30, ' ') + "1", std::nullopt},  // over the length cap
    {"+" + std::string(1 << 20, '4'), std::nullopt},                  // 1 MiB of digits
    {std::string(1 << 20, ' ') + "+442079460958" + std::string(1 << 20, ' '), "+442079460958"},
};

TEST(E164Phone, Table) {
  for (const auto& c : kPhoneCases) {
    SCOPED_TRACE(describe(c.input));
    EXPECT_EQ(e164_phone(c.input), c.expected);
  }
}

// ------------------------------------------------------------------------------------- is_iso8601_datetime

struct DateTimeCase {
  std::string input;
  bool valid;
};

class Iso8601DateTime : public ::testing::TestWithParam<DateTimeCase> {};

TEST_P(Iso8601DateTime, Classifies) {
  const auto& c = GetParam();
  SCOPED_TRACE(describe(c.input));
  EXPECT_EQ(is_iso8601_datetime(c.input), c.valid);
}

INSTANTIATE_TEST_SUITE_P(
    Valid, Iso8601DateTime,
    ::testing::Values(DateTimeCase{"2024-02-29T00:00:00Z", true},  // leap year
                      DateTimeCase{"2021-10-25T15:10:08.888+05:30", true},
                      DateTimeCase{"2017-05-01T14:00:00+0000", true},
                      DateTimeCase{"2017-05-01T14:00:00.562Z", true},
                      DateTimeCase{"2017-05-01T14:00:00", true},  // no offset: local time
                      DateTimeCase{"2017-05-01t14:00:00z", true},
                      DateTimeCase{"2017-05-01 14:00:00Z", true},
                      DateTimeCase{"2017-05-01T14:00:00+05", true},
                      DateTimeCase{"2017-05-01T14:00:00-00:00", true},
                      DateTimeCase{"2017-05-01T14:00:00-23:59", true},
                      DateTimeCase{"2017-05-01T14:00:00,5+01:00", true},  // ISO-8601 decimal comma
                      DateTimeCase{"2017-05-01T14:00:00.123456789Z", true},
                      DateTimeCase{"2000-02-29T23:59:59Z", true},  // divisible by 400: leap
                      DateTimeCase{"0001-01-01T00:00:00Z", true},
                      DateTimeCase{"9999-12-31T23:59:59.999999999Z", true},
                      DateTimeCase{"2024-12-31T23:59:59+14:00", true}));

INSTANTIATE_TEST_SUITE_P(
    Invalid, Iso8601DateTime,
    ::testing::Values(DateTimeCase{"", false},
                      DateTimeCase{"2024-02-29", false},  // bare date
                      DateTimeCase{"14:00:00Z", false},   // bare time
                      DateTimeCase{"2024-02-31T00:00:00Z", false},
                      DateTimeCase{"2023-02-29T00:00:00Z", false},  // not a leap year
                      DateTimeCase{"1900-02-29T00:00:00Z", false},  // century, not divisible by 400
                      DateTimeCase{"2024-04-31T00:00:00Z", false},
                      DateTimeCase{"2024-13-01T00:00:00Z", false},
                      DateTimeCase{"2024-00-10T00:00:00Z", false},
                      DateTimeCase{"2024-01-00T00:00:00Z", false},
                      DateTimeCase{"0000-01-01T00:00:00Z", false},  // year 0 refused (see validator)
                      DateTimeCase{"2024-01-01T24:00:00Z", false},
                      DateTimeCase{"2024-01-01T23:60:00Z", false},
                      DateTimeCase{"2024-01-01T23:59:60Z", false},  // leap seconds refused
                      DateTimeCase{"2017-05-01T14:00:00X123", false},
                      DateTimeCase{"2017-05-01T14:00:00Z ", false},  // trailing space
                      DateTimeCase{" 2017-05-01T14:00:00Z", false},  // leading space
                      DateTimeCase{"2017-05-01T14:00:00Zjunk", false},
                      DateTimeCase{"2017-05-01T14:00:00.Z", false},  // fraction without digits
                      DateTimeCase{"2017-05-01T14:00:00.1234567890Z", false},  // 10 fraction digits
                      DateTimeCase{"2017-05-01T14:00:00+24:00", false},
                      DateTimeCase{"2017-05-01T14:00:00+05:60", false},
                      DateTimeCase{"2017-05-01T14:00:00+5:30", false},
                      DateTimeCase{"2017-05-01T14:00:00+05:3", false},
                      DateTimeCase{"2017-05-01T14:00:00+05:", false},
                      DateTimeCase{"2017-05-01T14:00:00+", false},
                      DateTimeCase{"2017-05-01T14:00", false},  // seconds are required
                      DateTimeCase{"2017-05-01T14:00:00ZZ", false},
                      DateTimeCase{"2017-05-01  14:00:00Z", false},  // two spaces
                      DateTimeCase{"2017-05-01_14:00:00Z", false},
                      DateTimeCase{"20170501T140000Z", false},  // basic format date/time
                      DateTimeCase{"2017-5-01T14:00:00Z", false},
                      DateTimeCase{"+2017-05-01T14:00:00Z", false},
                      DateTimeCase{"1494000000", false},  // epoch seconds
                      DateTimeCase{"2017-05-01T14:00:00\0Z"s, false},
                      DateTimeCase{"2017-05-01T14:00:00Z\0"s, false},
                      DateTimeCase{"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x91\xef\xbc\x97-05-01T14:00:00Z", false},
                      DateTimeCase{"2017-05-01T14:00:00\xff", false},
                      DateTimeCase{"   \t\n", false},
                      DateTimeCase{"2017-05-01T14:00:00.1" + std::string(60, '0') + "Z", false},  // over the cap
                      DateTimeCase{std::string(1 << 20, '9'), false}));

// --------------------------------------------------------------------------------------- iso4217_currency

const std::vector<NormaliseCase> kCurrencyCases = {
    {"USD", "USD"},
    {"  usd ", "USD"},
    {"gbp", "GBP"},
    {"EuR", "EUR"},
    {"\tJPY\r\n", "JPY"},
    {"INR", "INR"},
    {"CHF", "CHF"},
    {"VED", "VED"},  // added 2021
    {"VES", "VES"},  // still current beside VED
    {"SLE", "SLE"},  // added 2022
    {"ZWG", "ZWG"},  // added 2024
    {"XCG", "XCG"},  // added 2025
    {"XAD", "XAD"},  // added 2025
    {"XAU", "XAU"},  // precious metal
    {"XDR", "XDR"},  // special drawing right
    {"CLF", "CLF"},  // fund code
    {"AED", "AED"},  // first entry of the table
    {"ZWG", "ZWG"},  // last entry of the table
    // Withdrawn.
    {"HRK", std::nullopt},
    {"ZWL", std::nullopt},
    {"ANG", std::nullopt},
    {"SLL", std::nullopt},
    {"CUC", std::nullopt},
    {"BGN", std::nullopt},
    {"DEM", std::nullopt},
    {"VEF", std::nullopt},
    {"BYR", std::nullopt},
    // Deliberately refused List One codes.
    {"XTS", std::nullopt},
    {"XXX", std::nullopt},
    // Never codes / malformed.
    {"ABC", std::nullopt},
    {"US", std::nullopt},
    {"USDD", std::nullopt},
    {"US D", std::nullopt},
    {"U$D", std::nullopt},
    {"123", std::nullopt},
    {"\xe2\x82\xac", std::nullopt},  // "€" is three bytes of UTF-8
    {"\xff\xfe\xfd", std::nullopt},
    {"US\0"s, std::nullopt},
    {"USD\0"s, std::nullopt},
    {"\0USD"s, std::nullopt},
    {"", std::nullopt},
    {" \t\n\v\f\r", std::nullopt},
    {std::string(1 << 20, 'A'), std::nullopt},
    {std::string(1 << 20, ' ') + "usd" + std::string(1 << 20, ' '), "USD"},
};

TEST(Iso4217Currency, Table) {
  for (const auto& c : kCurrencyCases) {
    SCOPED_TRACE(describe(c.input));
    EXPECT_EQ(iso4217_currency(c.input), c.expected);
  }
}

// ------------------------------------------------------------------------------------------- all together

TEST(Validators, ConcurrentCallsAgreeWithSequentialOnes) {
  // Pure functions over a shared libphonenumber singleton: concurrent callers must see the same answers.
  constexpr int kThreads = 4;
  constexpr int kRounds = 50;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &mismatches] {
      for (int round = 0; round < kRounds; ++round) {
        if (e164_phone("+44 20 7946 0958") != std::optional<std::string>("+442079460958")) ++mismatches[t];
        if (e164_phone("+44 7700 900123").has_value()) ++mismatches[t];
        if (!is_iso8601_datetime("2021-10-25T15:10:08.888+05:30")) ++mismatches[t];
        if (iso4217_currency(" eur ") != std::optional<std::string>("EUR")) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
