// The compact progress line's counts (import::short_count): as they are below ten thousand, then three digits
// and k or M, never more than five columns, with each step's boundary on the right side.
#include <gtest/gtest.h>

#include <cstdint>

#include "omt/import/plan.hpp"

namespace {

using omt::import::short_count;

TEST(ShortCount, IsThePlainNumberBelowTenThousand) {
  EXPECT_EQ(short_count(0), "0");
  EXPECT_EQ(short_count(7), "7");
  EXPECT_EQ(short_count(9'999), "9999");
}

TEST(ShortCount, ThousandsHaveThreeDigitsAndK) {
  EXPECT_EQ(short_count(10'000), "10.0k");
  EXPECT_EQ(short_count(10'049), "10.0k");
  EXPECT_EQ(short_count(10'050), "10.1k");
  EXPECT_EQ(short_count(71'000), "71.0k");
  EXPECT_EQ(short_count(99'949), "99.9k");
  EXPECT_EQ(short_count(99'950), "100k");  // rounds up to the next step, not "100.0k"
  EXPECT_EQ(short_count(400'000), "400k");
  EXPECT_EQ(short_count(999'499), "999k");
}

TEST(ShortCount, MillionsHaveThreeDigitsAndM) {
  EXPECT_EQ(short_count(999'500), "1.00M");  // not "1000k"
  EXPECT_EQ(short_count(999'999), "1.00M");
  EXPECT_EQ(short_count(1'000'000), "1.00M");
  EXPECT_EQ(short_count(1'200'000), "1.20M");
  EXPECT_EQ(short_count(1'234'567), "1.23M");
  EXPECT_EQ(short_count(9'994'999), "9.99M");
  EXPECT_EQ(short_count(9'995'000), "10.0M");  // not "10.00M"
  EXPECT_EQ(short_count(12'000'000), "12.0M");
  EXPECT_EQ(short_count(99'950'000), "100M");
  EXPECT_EQ(short_count(120'000'000), "120M");
  EXPECT_EQ(short_count(999'499'999), "999M");
}

TEST(ShortCount, FromABillionOnIsWholeMillions) {
  EXPECT_EQ(short_count(999'500'000), "1000M");
  EXPECT_EQ(short_count(1'200'000'000), "1200M");
  EXPECT_EQ(short_count(UINT64_MAX), "18446744073710M");
}

TEST(ShortCount, NeverTakesMoreThanFiveColumnsUpToTenThousandMillions) {
  for (std::uint64_t n = 1; n <= 9'999'499'999; n = n * 3 + 1) EXPECT_LE(short_count(n).size(), 5u) << n;
  for (std::uint64_t n = 9'000; n < 2'000'000; n += 7) ASSERT_LE(short_count(n).size(), 5u) << n;
}

}  // namespace
