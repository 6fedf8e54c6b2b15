// Browsers on the real server: CORS preflights and answers from each source's allowed_origins, and the beacon
// route navigator.sendBeacon uses (write key in the query, body labelled text/plain).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ingest_fixture.hpp"

namespace {

using namespace omt::test::ingest;
using nlohmann::json;
using omt::test::basic_auth;
using omt::test::Headers;

const Headers kPreflight = {{"Origin", "https://shop.example"},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "authorization,content-type,anonymousid"}};

class BrowserIngestTest : public IngestTest {
 protected:
  omt::test::HttpResponse options(const std::string& target, const Headers& headers) {
    return server_->client().request("OPTIONS", target, "", headers);
  }
  std::string metrics() { return metrics_.render_prometheus(); }
};

TEST_F(BrowserIngestTest, APreflightOnEveryIngestRouteIs204WithTheAllowedOrigin) {
  start();
  for (const char* path : {"/v1/identify", "/v1/track", "/v1/batch", "/v1/webhook", "/beacon/v1/batch"}) {
    const auto response = options(path, kPreflight);
    EXPECT_EQ(response.status, 204) << path;
    EXPECT_EQ(response.body, "") << path;
    EXPECT_EQ(response.header("Content-Type"), "") << path;  // no content, so no content type
    EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "https://shop.example") << path;
    EXPECT_EQ(response.header("Access-Control-Allow-Methods"), "POST, OPTIONS") << path;
    EXPECT_NE(response.header("Access-Control-Allow-Headers").find("AnonymousId"), std::string::npos) << path;
    EXPECT_EQ(response.header("Access-Control-Max-Age"), "900") << path;
    EXPECT_EQ(response.header("Access-Control-Allow-Credentials"), "") << path;
  }
  EXPECT_NE(metrics().find("omt_ingest_cors_refused_total 0"), std::string::npos) << metrics();
}

TEST_F(BrowserIngestTest, AnOriginNoSourceAllowsGetsNoCorsHeadersAndIsCounted) {
  start();
  const auto response = options("/v1/identify", {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "");
  EXPECT_EQ(response.header("Access-Control-Allow-Methods"), "");
  EXPECT_NE(metrics().find("omt_ingest_cors_refused_total 1"), std::string::npos) << metrics();
}

TEST_F(BrowserIngestTest, TheActualAnswerCarriesTheOriginWhenTheSendingSourceAllowsIt) {
  start();
  Headers headers = kWebBasic;
  headers.emplace_back("Origin", "https://shop.example");
  const auto stored = post("/v1/identify", identify(1).dump(), headers);
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.header("Access-Control-Allow-Origin"), "https://shop.example");
  EXPECT_EQ(stored.header("Access-Control-Allow-Credentials"), "");

  // An answer that is not a 200 carries it too, so that the SDK can read it.
  const auto bad = post("/v1/identify", "{", headers);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.header("Access-Control-Allow-Origin"), "https://shop.example");
  EXPECT_NE(metrics().find("omt_ingest_cors_refused_total 0"), std::string::npos) << metrics();
}

TEST_F(BrowserIngestTest, ASourceThatDoesNotAllowTheOriginAnswersWithoutCorsHeadersAndCountsIt) {
  start();
  // "app" allows no origin, though "web" allows this one: the sending source decides.
  const auto response = post("/v1/identify", identify(1).dump(),
                             {{"Authorization", basic_auth("wk-app")}, {"Origin", "https://shop.example"}});
  EXPECT_EQ(response.status, 200) << response.body;  // stored: only the browser withholds the answer
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "");
  EXPECT_NE(metrics().find("omt_ingest_cors_refused_total 1"), std::string::npos) << metrics();
  EXPECT_EQ(records_in_queue_file().size(), 1u);
}

TEST_F(BrowserIngestTest, TheBeaconTakesTheWriteKeyInTheQueryAndATextPlainBody) {
  start();
  const json batch = {{"batch", json::array({identify(1), custom_event(2)})}, {"sentAt", "2024-05-01T10:00:01Z"}};
  const auto response = post("/beacon/v1/batch?writeKey=wk-web", batch.dump(), {{"Content-Type", "text/plain;charset=UTF-8"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":2,"rejected":[]})");
  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].api_key, "key-web");
}

TEST_F(BrowserIngestTest, TheBeaconRefusesAMissingOrUnknownWriteKeyAndKeepsTheLimits) {
  omt::protocol::IngestLimits limits;
  limits.max_events_per_request = 2;
  start(true, 1'000'000, limits);
  const std::string body = json{{"batch", json::array({identify(1)})}}.dump();
  EXPECT_EQ(post("/beacon/v1/batch", body, {}).status, 401);
  EXPECT_EQ(post("/beacon/v1/batch?writeKey=nope", body, {}).status, 401);
  // The Basic header is not the beacon's credential.
  EXPECT_EQ(post("/beacon/v1/batch", body, {{"Authorization", basic_auth("wk-web")}}).status, 401);
  const std::string three = json{{"batch", json::array({identify(1), identify(2), identify(3)})}}.dump();
  EXPECT_EQ(post("/beacon/v1/batch?writeKey=wk-web", three, {}).status, 413);

  const auto dry = post("/beacon/v1/batch?writeKey=wk-web&dry_run=true", body, {});
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(json::parse(dry.body)["dry_run"], true);
  EXPECT_TRUE(records_in_queue_file().empty());
}

}  // namespace
