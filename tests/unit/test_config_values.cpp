// The config's value syntax (omt/config/values.hpp): addresses, durations, sizes and secrets from the
// environment, with the messages the config's errors carry.
#include <gtest/gtest.h>

#include <string>

#include "omt/config/values.hpp"

namespace omt::config {
namespace {

using namespace std::chrono_literals;

TEST(ConfigValues, ParsesHostPortDurationsAndSizes) {
  EXPECT_EQ(parse_host_port("[::1]:9090")->host, "::1");
  EXPECT_EQ(parse_host_port(":9090")->host, "0.0.0.0");
  EXPECT_FALSE(parse_host_port("::1:9090"));
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("2m"), 120s);
  EXPECT_EQ(*parse_duration("15"), 15ms);
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_EQ(*parse_size("8KiB"), 8192u);
  EXPECT_EQ(*parse_size("2MB"), 2000000u);
  EXPECT_FALSE(parse_size("99999999999999GiB"));
}

TEST(ConfigValues, HostPortForms) {
  const auto v4 = parse_host_port("127.0.0.1:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_EQ(parse_host_port("localhost:0")->port, 0);
  EXPECT_EQ(parse_host_port("[::]:65535")->host, "::");
  EXPECT_EQ(parse_host_port("x:9090x").error().message, "expected a port 0..65535, got \"9090x\"");
  EXPECT_EQ(parse_host_port("x:65536").error().message, "expected a port 0..65535, got \"65536\"");
  EXPECT_EQ(parse_host_port("x:").error().message, "expected a port 0..65535, got \"\"");
  EXPECT_EQ(parse_host_port("9090").error().message, "expected HOST:PORT, got \"9090\"");
  EXPECT_EQ(parse_host_port("::1:9090").error().message, "an IPv6 host must be bracketed: [::1]:9090");
  EXPECT_EQ(parse_host_port("x:y").error().code, errc::invalid_config);
}

TEST(ConfigValues, DurationUnitsWhiteSpaceAndRange) {
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("2min"), 120s);
  EXPECT_EQ(*parse_duration("1h"), 3600s);
  EXPECT_EQ(*parse_duration(" 10 s "), 10s);   // white space around the number and the unit
  EXPECT_EQ(*parse_duration("0"), 0ms);
  EXPECT_EQ(parse_duration("10 sec").error().message, "unknown duration unit \"sec\" (use ms, s, m or h)");
  EXPECT_EQ(parse_duration("ms").error().message,
            "expected a duration like \"250ms\", \"30s\" or \"2m\", got \"ms\"");
  EXPECT_EQ(parse_duration("9223372036854775807h").error().message, "duration out of range: 9223372036854775807h");
}

TEST(ConfigValues, SizeUnitsAndRange) {
  EXPECT_EQ(*parse_size("1024"), 1024u);
  EXPECT_EQ(*parse_size("1B"), 1u);
  EXPECT_EQ(*parse_size("32MiB"), 32u << 20);
  EXPECT_EQ(*parse_size("1GiB"), 1u << 30);
  EXPECT_EQ(*parse_size("3kB"), 3000u);
  EXPECT_EQ(*parse_size("3KB"), 3000u);
  EXPECT_EQ(*parse_size("1GB"), 1000000000u);
  EXPECT_EQ(*parse_size("\t8 KiB\t"), 8192u);
  EXPECT_EQ(parse_size("8kib").error().message, "unknown size unit \"kib\" (use B, KiB, MiB, GiB)");
  EXPECT_EQ(parse_size("big").error().message, "expected a size like \"8KiB\" or \"32MiB\", got \"big\"");
  EXPECT_EQ(parse_size("99999999999999GiB").error().message, "size out of range: 99999999999999GiB");
}

TEST(ConfigValues, SecretsFromTheEnvironmentMustBeSetAndNonEmpty) {
  EXPECT_EQ(*secret_from_environment("OMT_KEY", "k-1"), "k-1");
  const auto unset = secret_from_environment("OMT_KEY", nullptr);
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().code, errc::invalid_config);
  EXPECT_EQ(unset.error().message, "environment variable OMT_KEY is not set");
  EXPECT_EQ(secret_from_environment("OMT_KEY", "").error().message, "environment variable OMT_KEY is not set");
}

}  // namespace
}  // namespace omt::config
