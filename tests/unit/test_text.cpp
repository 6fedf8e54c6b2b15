#include <gtest/gtest.h>

#include "omt/core/text.hpp"

TEST(Text, IequalsIsAsciiCaseInsensitive) {
  EXPECT_TRUE(omt::text::iequals("X-Ometria-Auth", "x-ometria-auth"));
  EXPECT_FALSE(omt::text::iequals("Basic", "Bearer"));
  EXPECT_FALSE(omt::text::iequals("abc", "abcd"));
}

TEST(Text, PercentDecodeKeepsMalformedEscapesAndTreatsPlusPerContext) {
  EXPECT_EQ(omt::text::percent_decode("a%41b%2", false), "aAb%2");
  EXPECT_EQ(omt::text::percent_decode("%zz+x", false), "%zz+x");
  EXPECT_EQ(omt::text::percent_decode("a+b%20c", true), "a b c");
}

TEST(Text, WhiteSpaceIsAsciiOnly) {
  for (const char c : std::string_view(" \t\n\v\f\r")) EXPECT_TRUE(omt::text::is_space(c)) << int(c);
  EXPECT_FALSE(omt::text::is_space('x'));
  EXPECT_FALSE(omt::text::is_space('\0'));
  EXPECT_FALSE(omt::text::is_space('\xA0'));  // Latin-1 NBSP: never white space here (js_trim's business)
  EXPECT_FALSE(omt::text::is_space('\x85'));
}

TEST(Text, TrimDropsAsciiWhiteSpaceAtBothEndsOnly) {
  EXPECT_EQ(omt::text::trim("  10 s\t"), "10 s");
  EXPECT_EQ(omt::text::trim("\r\n line \r\n"), "line");
  EXPECT_EQ(omt::text::trim("\v\fx\f\v"), "x");
  EXPECT_EQ(omt::text::trim(" \t\r\n"), "");
  EXPECT_EQ(omt::text::trim(""), "");
  EXPECT_EQ(omt::text::trim("a b"), "a b");
  EXPECT_EQ(omt::text::trim("\xC2\xA0x\xC2\xA0"), "\xC2\xA0x\xC2\xA0");  // UTF-8 NBSP stays
  static_assert(omt::text::trim(" ok ") == "ok");
  // A view into the same bytes.
  const std::string_view text = " abc ";
  EXPECT_EQ(omt::text::trim(text).data(), text.data() + 1);
}
