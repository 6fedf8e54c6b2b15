// Who is sending to an ingest route: write keys, webhook tokens, the source directory and authenticate.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "omt/protocol/ingest_credentials.hpp"

namespace {
using namespace omt::protocol;
using omt::errc;

std::string basic(const std::string& user_colon_password) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  const auto& in = user_colon_password;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (in.size() - i == 1) {
    const unsigned v = (unsigned char)in[i] << 16;
    out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return "Basic " + out;
}

TEST(IngestAuth, ConstantTimeEqualComparesWholeValues) {
  EXPECT_TRUE(constant_time_equal("secret-key", "secret-key"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("secret-key", "secret-kex"));
  EXPECT_FALSE(constant_time_equal("secret-key", "secret-key "));
  EXPECT_FALSE(constant_time_equal("secret", "secret-key"));  // a prefix is not equal
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(IngestAuth, BasicAuthUserIsTheWriteKey) {
  EXPECT_EQ(basic_auth_user(basic("wk-1:")), "wk-1");
  EXPECT_EQ(basic_auth_user(basic("wk-1:anything")), "wk-1");
  EXPECT_EQ(basic_auth_user(basic("wk-1")), "wk-1");  // no colon: the whole value is the user
  EXPECT_EQ(basic_auth_user(basic("ab:")), "ab");      // padding "="
  EXPECT_EQ(basic_auth_user("basic   " + basic("wk-2:").substr(6)), "wk-2");  // scheme case, extra spaces
  EXPECT_EQ(basic_auth_user("Basic d2stMTo"), "wk-1");  // unpadded
  EXPECT_FALSE(basic_auth_user("Bearer d2stMTo="));
  EXPECT_FALSE(basic_auth_user("Basic !!!"));
  EXPECT_FALSE(basic_auth_user("Basic"));
  EXPECT_FALSE(basic_auth_user(""));
}

TEST(IngestAuth, BearerTokenAndQueryParameters) {
  EXPECT_EQ(bearer_token("Bearer tok-1"), "tok-1");
  EXPECT_EQ(bearer_token("bearer  tok-1 "), "tok-1");
  EXPECT_FALSE(bearer_token("Basic tok-1"));
  EXPECT_FALSE(bearer_token("tok-1"));

  EXPECT_EQ(query_parameter("/v1/webhook?token=a%2Bb%20c+d", "token"), "a+b c d");
  EXPECT_EQ(query_parameter("/v1/webhook?x=1&token=t&token=u", "token"), "t");  // the first wins
  EXPECT_EQ(query_parameter("/v1/webhook?token", "token"), "");
  EXPECT_FALSE(query_parameter("/v1/webhook?tokens=t", "token"));
  EXPECT_FALSE(query_parameter("/v1/webhook", "token"));
  EXPECT_EQ(query_parameter("/v1/webhook?token=%zz", "token"), "%zz");  // bad escapes stay as they are
}

std::vector<omt::config::SourceConfig> two_sources() {
  omt::config::SourceConfig a;
  a.name = "web";
  a.write_key = "wk-web";
  a.webhook_token = "tok-web";
  a.destination.api_key = "key-web";
  omt::config::SourceConfig b;
  b.name = "app";
  b.write_key = "wk-app";  // no webhook token
  b.destination.api_key = "key-app";
  return {a, b};
}

TEST(IngestAuth, SourceDirectoryFindsEachSecretOnlyInItsOwnRole) {
  const SourceDirectory sources(two_sources());
  ASSERT_EQ(sources.size(), 2u);
  ASSERT_NE(sources.by_write_key("wk-app"), nullptr);
  EXPECT_EQ(sources.by_write_key("wk-app")->name, "app");
  EXPECT_EQ(sources.by_webhook_token("tok-web")->name, "web");
  EXPECT_EQ(sources.by_write_key("tok-web"), nullptr);     // a token is not a write key
  EXPECT_EQ(sources.by_webhook_token("wk-web"), nullptr);  // nor the other way round
  EXPECT_EQ(sources.by_webhook_token(""), nullptr);        // "app" has no token: empty never matches
  EXPECT_EQ(sources.by_write_key("wk-ap"), nullptr);
  EXPECT_EQ(sources.by_write_key("wk-appp"), nullptr);
}

TEST(IngestAuth, AuthenticateByRoute) {
  const SourceDirectory sources(two_sources());
  auto ok = authenticate(IngestRoute::track, sources, basic("wk-app:"), "/v1/track");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->destination.api_key, "key-app");

  ok = authenticate(IngestRoute::webhook, sources, "Bearer tok-web", "/v1/webhook");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->name, "web");
  ok = authenticate(IngestRoute::webhook, sources, "", "/v1/webhook?token=tok-web");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->name, "web");

  struct Case {
    IngestRoute route;
    std::string header;
    std::string target;
    std::string message_part;
  };
  for (const auto& c : std::vector<Case>{
           {IngestRoute::identify, "", "/v1/identify", "HTTP Basic"},
           {IngestRoute::batch, basic(":password"), "/v1/batch", "HTTP Basic"},
           {IngestRoute::track, basic("wk-nope:"), "/v1/track", "Unknown write key"},
           {IngestRoute::track, "Bearer wk-app", "/v1/track", "HTTP Basic"},           // wrong scheme
           {IngestRoute::track, "", "/v1/track?token=tok-web", "HTTP Basic"},           // no ?token= for Basic routes
           {IngestRoute::webhook, "", "/v1/webhook", "Bearer"},
           {IngestRoute::webhook, "Bearer nope", "/v1/webhook", "Unknown webhook token"},
           {IngestRoute::webhook, basic("wk-web:"), "/v1/webhook", "Bearer"},          // write key not accepted
           {IngestRoute::webhook, "Bearer nope", "/v1/webhook?token=tok-web", "Unknown webhook token"},  // header wins
       }) {
    auto failed = authenticate(c.route, sources, c.header, c.target);
    ASSERT_FALSE(failed) << c.header << " " << c.target;
    EXPECT_EQ(failed.error().code, errc::unauthorized);
    EXPECT_NE(failed.error().message.find(c.message_part), std::string::npos) << failed.error().message;
    EXPECT_EQ(failed.error().message.find("nope"), std::string::npos);  // never echoes the credential
  }
}

}  // namespace
