// Which sources a queued key belongs to, as /health, `queue stats` and the start-up warning tell it.
#include <gtest/gtest.h>

#include "omt/obs/log.hpp"
#include "omt/service/key_sources.hpp"

namespace omt::test {
namespace {

std::vector<config::SourceConfig> sources() {
  std::vector<config::SourceConfig> s(3);
  s[0].name = "web";
  s[0].destination.api_key = "key-shared";
  s[1].name = "app";
  s[1].destination.api_key = "key-shared";
  s[2].name = "staging";
  s[2].destination.api_key = "key-staging";
  return s;
}

TEST(KeySources, AKeyIsNamedByEverySourceWhoseCurrentKeyItIsInConfigurationOrder) {
  EXPECT_EQ(service::sources_with_key(sources(), "key-shared"), (std::vector<std::string>{"web", "app"}));
  EXPECT_EQ(service::describe_key_sources(service::sources_with_key(sources(), "key-shared")), "web, app");
  EXPECT_EQ(service::describe_key_sources(service::sources_with_key(sources(), "key-staging")), "staging");
  EXPECT_EQ(service::describe_key_sources(service::sources_with_key(sources(), "key-old")), "no source (an old key)");
}

TEST(KeySources, AKeyKnownOnlyByItsFingerprintIsNamedTheSameWay) {
  EXPECT_EQ(service::sources_with_fingerprint(sources(), obs::key_fingerprint("key-shared")),
            (std::vector<std::string>{"web", "app"}));
  EXPECT_TRUE(service::sources_with_fingerprint(sources(), obs::key_fingerprint("key-old")).empty());
  EXPECT_TRUE(service::sources_with_fingerprint(sources(), "key-shared").empty()) << "a key is not its fingerprint";
}

}  // namespace
}  // namespace omt::test
