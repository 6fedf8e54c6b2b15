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
