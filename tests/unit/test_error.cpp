#include <gtest/gtest.h>

#include "omt/error.hpp"

TEST(Error, HttpStatusFollowsCode) {
  EXPECT_EQ(omt::http_status(omt::errc::instrumentation), 400);
  EXPECT_EQ(omt::http_status(omt::errc::configuration), 400);
  EXPECT_EQ(omt::http_status(omt::errc::transformation), 500);
  EXPECT_EQ(omt::http_status(omt::errc::too_large), 413);
  EXPECT_EQ(omt::http_status(omt::errc::unavailable), 429);
  EXPECT_EQ(omt::http_status(omt::errc::unsupported_media), 415);
}

TEST(Error, FailCarriesMessageAndPath) {
  omt::Expected<int> r = omt::fail(omt::errc::instrumentation, "Event type is required", "type");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Event type is required");
  EXPECT_EQ(r.error().path, "type");
  EXPECT_EQ(omt::to_string(r.error().code), "instrumentation");
}
