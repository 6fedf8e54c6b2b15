// The PostgreSQL queue's timeouts (docs/scaling.md): queue.lease_timeout, how long an instance's claim on a key's
// delivery lasts unless renewed, and queue.statement_timeout, the longest one statement may run.
#include <gtest/gtest.h>

#include "omt/config/config.hpp"

namespace omt::config {
namespace {

Expected<Config> validate_text(std::string_view text) {
  auto raw = RawConfig::parse(text, "test.json");
  if (!raw) return tl::unexpected(raw.error());
  return validate(*raw);
}

TEST(ConfigLeaseTimeout, ThirtySecondsUnlessToldAndAtLeastASecond) {
  EXPECT_EQ(Config{}.queue.lease_timeout, std::chrono::seconds(30));
  auto short_one = validate_text(R"({"queue": {"lease_timeout": "3s"}})");
  ASSERT_TRUE(short_one) << short_one.error().message;
  EXPECT_EQ(short_one->queue.lease_timeout, std::chrono::seconds(3));
  for (const char* bad : {R"({"queue": {"lease_timeout": "100ms"}})", R"({"queue": {"lease_timeout": "2h"}})",
                          R"({"queue": {"lease_timeout": "soon"}})"}) {
    auto refused = validate_text(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().message.find("queue.lease_timeout"), std::string::npos) << refused.error().message;
  }
}

TEST(ConfigStatementTimeout, TenSecondsUnlessToldAndBetween100MsAndTenMinutes) {
  EXPECT_EQ(Config{}.queue.statement_timeout, std::chrono::seconds(10));
  auto set = validate_text(R"({"queue": {"backend": "postgres", "url": "postgresql://omt@db/omt", "statement_timeout": "2500ms"}})");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->queue.statement_timeout, std::chrono::milliseconds(2500));
  for (const char* bad : {R"({"queue": {"statement_timeout": "50ms"}})", R"({"queue": {"statement_timeout": "11m"}})",
                          R"({"queue": {"statement_timeout": 5}})", R"({"queue": {"statement_timeout": "never"}})"}) {
    auto refused = validate_text(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().message.find("queue.statement_timeout"), std::string::npos) << refused.error().message;
  }
}

}  // namespace
}  // namespace omt::config
