#include <gtest/gtest.h>

#include "omt/protocol/ingest_cors.hpp"

namespace {

using omt::config::SourceConfig;
using omt::protocol::cors_actual;
using omt::protocol::preflight_origins;
using omt::protocol::cors_preflight;
using omt::protocol::HeaderList;
using omt::protocol::origin_allowed;

SourceConfig source_with(std::vector<std::string> origins) {
  SourceConfig s;
  s.write_key = "wk";
  s.allowed_origins = std::move(origins);
  return s;
}

std::string header(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "<absent>";
}

TEST(IngestCors, OriginsAreAllowedExactlyOrByAnExplicitStar) {
  EXPECT_TRUE(origin_allowed({"https://shop.example"}, "https://shop.example"));
  EXPECT_TRUE(origin_allowed({"https://shop.example"}, "HTTPS://Shop.Example"));  // scheme and host are case-free
  EXPECT_FALSE(origin_allowed({"https://shop.example"}, "https://shop.example.evil"));
  EXPECT_FALSE(origin_allowed({"https://shop.example"}, "http://shop.example"));
  EXPECT_FALSE(origin_allowed({"https://shop.example"}, "https://shop.example:8443"));
  EXPECT_FALSE(origin_allowed({}, "https://shop.example"));  // the default: no origin
  EXPECT_TRUE(origin_allowed({"*"}, "https://anything.example"));
  EXPECT_TRUE(origin_allowed({"*"}, "null"));  // a sandboxed page: "*" means every origin
  EXPECT_FALSE(origin_allowed({"*"}, ""));
}

TEST(IngestCors, APreflightIsAllowedWhenAnySourceAllowsTheOrigin) {
  const std::vector<SourceConfig> sources = {source_with({}), source_with({"https://shop.example"})};
  const auto answer = cors_preflight(preflight_origins(sources), "https://shop.example");
  EXPECT_FALSE(answer.refused);
  EXPECT_EQ(header(answer.headers, "Access-Control-Allow-Origin"), "https://shop.example");
  EXPECT_EQ(header(answer.headers, "Access-Control-Allow-Methods"), "POST, OPTIONS");
  const std::string allowed_headers = header(answer.headers, "Access-Control-Allow-Headers");
  for (const char* sent : {"Authorization", "Content-Type", "AnonymousId", "SentAt", "Rsa-Retry-Attempt"})
    EXPECT_NE(allowed_headers.find(sent), std::string::npos) << sent;
  EXPECT_EQ(header(answer.headers, "Access-Control-Max-Age"), "900");
  EXPECT_EQ(header(answer.headers, "Access-Control-Allow-Credentials"), "<absent>");
  EXPECT_EQ(header(answer.headers, "Vary"), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
}

TEST(IngestCors, AStarSourceAnswersWithTheOriginItself) {
  const std::vector<SourceConfig> sources = {source_with({"*"})};
  EXPECT_EQ(header(cors_preflight(preflight_origins(sources), "https://a.example").headers, "Access-Control-Allow-Origin"), "https://a.example");
}

TEST(IngestCors, AnOriginNoSourceAllowsGetsNoCorsHeadersAndIsRefused) {
  const std::vector<SourceConfig> sources = {source_with({"https://shop.example"})};
  const auto answer = cors_preflight(preflight_origins(sources), "https://evil.example");
  EXPECT_TRUE(answer.refused);
  EXPECT_EQ(header(answer.headers, "Access-Control-Allow-Origin"), "<absent>");
  EXPECT_EQ(header(answer.headers, "Access-Control-Allow-Methods"), "<absent>");
}

TEST(IngestCors, WithoutAnOriginThereIsNothingToSayOrCount) {
  const std::vector<SourceConfig> sources = {source_with({"*"})};
  EXPECT_TRUE(cors_preflight(preflight_origins(sources), "").headers.empty());
  EXPECT_FALSE(cors_preflight(preflight_origins(sources), "").refused);
  EXPECT_TRUE(cors_actual(sources[0], "").headers.empty());
  EXPECT_FALSE(cors_actual(sources[0], "").refused);
}

TEST(IngestCors, AnActualAnswerCarriesTheOriginOnlyWhenTheSendingSourceAllowsIt) {
  const auto allowed = cors_actual(source_with({"https://shop.example"}), "https://shop.example");
  EXPECT_FALSE(allowed.refused);
  EXPECT_EQ(header(allowed.headers, "Access-Control-Allow-Origin"), "https://shop.example");
  EXPECT_EQ(header(allowed.headers, "Vary"), "Origin");
  EXPECT_EQ(header(allowed.headers, "Access-Control-Allow-Credentials"), "<absent>");

  // Another source allowing the origin does not matter: this one sent it.
  const auto refused = cors_actual(source_with({"https://other.example"}), "https://shop.example");
  EXPECT_TRUE(refused.refused);
  EXPECT_EQ(header(refused.headers, "Access-Control-Allow-Origin"), "<absent>");
}

}  // namespace
