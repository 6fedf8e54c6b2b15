// Every route of `serve` through a real HTTP client: status, headers and body.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "omt/protocol/rudder.hpp"
#include "test_server.hpp"

namespace omt::test {
namespace {

using nlohmann::json;

json identify_event(const std::string& email, int job_id) {
  return {
      {"message",
       {{"type", "identify"},
        {"userId", "user-" + std::to_string(job_id)},
        {"anonymousId", "anon-1"},
        {"context", {{"traits", {{"email", email}, {"firstName", "Ann"}, {"listingId", "L1"}}}}},
        {"integrations", {{"Ometria", {{"listingId", "L1"}}}}},
        {"originalTimestamp", "2024-01-02T03:04:05.000Z"}}},
      {"metadata", {{"jobId", job_id}}},
      {"destination", {{"ID", "dest-1"}, {"Config", {{"apiKey", "key-1"}, {"marketingOptin", "EXPLICITLY_OPTEDIN"}}}}}};
}

std::string processor_body(const std::string& email = "ann@example.com") {
  return json::array({identify_event(email, 1)}).dump();
}

std::string router_body() {
  return json{{"input", json::array({identify_event("ann@example.com", 1), identify_event("bob@example.com", 2)})},
              {"destType", "ometria"}}
      .dump();
}

class HttpRoutes : public ::testing::Test {
 protected:
  TestServer server;
  HttpClient client = server.client();
};

TEST_F(HttpRoutes, HealthIsOk) {
  const HttpResponse r = client.get("/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(r.body), json({{"status", "ok"}}));
  EXPECT_TRUE(r.keep_alive);
}

TEST_F(HttpRoutes, QueryStringAndTrailingSlashDoNotChangeTheRoute) {
  EXPECT_EQ(client.get("/health?verbose=1").status, 200);
  EXPECT_EQ(client.get("/health/").status, 200);
}

TEST_F(HttpRoutes, VersionNamesTheService) {
  const HttpResponse r = client.get("/version");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json({{"name", "ometria-transformer"}, {"version", "test"}}));
}

TEST_F(HttpRoutes, FeaturesAreTheProtocolsFeatures) {
  const HttpResponse r = client.get("/features");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, protocol::features_json());
}

TEST_F(HttpRoutes, ProcessorRouteAnswersWhatTheProtocolAnswersWithApiVersion2) {
  const std::string body = processor_body();
  const protocol::Reply expected = protocol::processor_transform(body, *server.transformer);
  const HttpResponse r = client.post("/v0/destinations/ometria", body);
  EXPECT_EQ(r.status, expected.status);
  EXPECT_EQ(r.body, expected.body);
  EXPECT_EQ(r.header("apiVersion"), expected.api_version_header ? "2" : "");
  EXPECT_EQ(r.header("content-type"), "application/json");
}

TEST_F(HttpRoutes, FeaturesAdvertiseWhatRudderServerLooksFor) {
  const json features = json::parse(client.get("/features").body);
  EXPECT_EQ(features.at("routerTransform").at("OMETRIA"), true);
  EXPECT_EQ(features.at("supportSourceTransformV1"), true);
  EXPECT_EQ(features.at("upgradedToSourceTransformV2"), true);
  EXPECT_EQ(features.at("supportDestTransformCompactedPayloadV1"), true);
}

// The compacted form of a router body: each input without its destination, which is looked up in
// destinations[metadata.destinationId] (rudder-server's TransformMessageT.Compacted()).
json compacted(const json& expanded_router_body) {
  json body = {{"input", json::array()}, {"destinations", json::object()}, {"connections", json::object()}};
  for (json in : expanded_router_body.at("input")) {
    const std::string id = in.at("destination").at("ID");
    in["metadata"]["destinationId"] = id;
    in["metadata"]["sourceId"] = "src-1";
    body["destinations"][id] = in.at("destination");
    body["connections"]["src-1:" + id] = {{"sourceId", "src-1"}, {"destinationId", id}, {"enabled", true},
                                          {"config", json::object()}, {"processorEnabled", true}};
    body["input"].push_back({{"message", in.at("message")}, {"metadata", in.at("metadata")}});
  }
  return body;
}
// The expanded body with the same metadata as compacted() gives it.
json with_compacted_metadata(json expanded_router_body) {
  for (auto& in : expanded_router_body.at("input")) {
    in["metadata"]["destinationId"] = in.at("destination").at("ID");
    in["metadata"]["sourceId"] = "src-1";
  }
  return expanded_router_body;
}

TEST_F(HttpRoutes, CompactedBodiesWithTheHeaderAnswerAsTheExpandedOnes) {
  const json router_expanded = with_compacted_metadata(json::parse(router_body()));
  const json router_compacted = compacted(router_expanded);
  const std::string processor_expanded = router_expanded.at("input").dump();
  const std::string processor_compacted = router_compacted.dump();
  json router_compacted_with_type = router_compacted;
  router_compacted_with_type["destType"] = "ometria";
  // The header as rudder-server sends it, and in lower case (header names are case-insensitive).
  for (const char* header : {"X-Content-Format", "x-content-format"}) {
    const HttpResponse expanded = client.post("/v0/destinations/ometria", processor_expanded);
    const HttpResponse r = client.post("/v0/destinations/ometria", processor_compacted, {{header, "json+compactedv1"}});
    ASSERT_EQ(expanded.status, 200) << expanded.body;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, expanded.body);
    EXPECT_EQ(r.header("apiVersion"), "2");

    const HttpResponse router_expected = client.post("/routerTransform", router_expanded.dump());
    const HttpResponse router = client.post("/routerTransform", router_compacted_with_type.dump(), {{header, "json+compactedv1"}});
    ASSERT_EQ(router_expected.status, 200) << router_expected.body;
    EXPECT_EQ(router.status, 200) << router.body;
    EXPECT_EQ(router.body, router_expected.body);
    EXPECT_EQ(router.header("apiVersion"), "2");
    EXPECT_EQ(json::parse(router.body).at("output").at(0).at("destination"), router_compacted.at("destinations").at("dest-1"));
  }
}

TEST_F(HttpRoutes, CompactedBodiesWithBrokenReferencesAre400sNamingTheInput) {
  json body = compacted(with_compacted_metadata(json::parse(router_body())));
  body["input"][1]["metadata"]["destinationId"] = "dest-9";
  const HttpResponse r = client.post("/v0/destinations/ometria", body.dump(), {{"X-Content-Format", "json+compactedv1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("apiVersion"), "2");
  EXPECT_EQ(json::parse(r.body), json({{"error", "input[1].metadata.destinationId \"dest-9\" is not a key of destinations"}}));
  body.erase("destinations");
  body["destType"] = "ometria";
  const HttpResponse router = client.post("/routerTransform", body.dump(), {{"X-Content-Format", "json+compactedv1"}});
  EXPECT_EQ(router.status, 400);
  EXPECT_EQ(json::parse(router.body).at("error").get<std::string>().rfind("destinations is required", 0), 0u) << router.body;
  // Without the header a compacted body is an expanded one, and not a valid one.
  EXPECT_EQ(client.post("/v0/destinations/ometria", compacted(json::parse(router_body())).dump()).status, 400);
}

TEST_F(HttpRoutes, ProcessorTransformsAnIdentifyIntoAnOmetriaContact) {
  for (const char* path : {"/v0/destinations/ometria", "/v0/destinations/OMETRIA", "/v0/destinations/%20Ometria%20"}) {
    const HttpResponse r = client.post(path, processor_body("ann@example.com"));
    ASSERT_EQ(r.status, 200) << path << " " << r.body;
    EXPECT_EQ(r.header("apiVersion"), "2");
    const json out = json::parse(r.body);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].at("statusCode"), 200);
    EXPECT_EQ(out[0].at("metadata"), json({{"jobId", 1}}));
    const json& request = out[0].at("output");
    EXPECT_EQ(request.at("endpoint"), "https://api.ometria.com/v2/push");
    EXPECT_EQ(request.at("headers").at("X-Ometria-Auth"), "key-1");
    const json batch = json::parse(request.at("body").at("JSON_ARRAY").at("batch").get<std::string>());
    EXPECT_EQ(batch[0].at("@type"), "contact");
    EXPECT_EQ(batch[0].at("email"), "ann@example.com");
  }
}

TEST_F(HttpRoutes, RouterBatchesEventsOfOneDestination) {
  const HttpResponse r = client.post("/routerTransform", router_body());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("apiVersion"), "2");
  const json out = json::parse(r.body).at("output");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].at("batched"), true);
  EXPECT_EQ(out[0].at("metadata"), json::parse(R"([{"jobId":1},{"jobId":2}])"));
  EXPECT_EQ(json::parse(out[0].at("batchedRequest").at("body").at("JSON_ARRAY").at("batch").get<std::string>()).size(), 2u);
}

TEST_F(HttpRoutes, BadBodiesGetJsonErrorsNotCrashes) {
  const std::pair<const char*, const char*> cases[] = {
      {"/v0/destinations/ometria", "[{"},
      {"/v0/destinations/ometria", "{}"},
      {"/v0/destinations/ometria", ""},
      {"/routerTransform", "not json"},
      {"/routerTransform", R"({"input":[],"destType":"ometria"})"},
  };
  for (const auto& [path, body] : cases) {
    const HttpResponse r = client.post(path, body);
    EXPECT_TRUE(r.status == 200 || r.status == 400) << path << " " << body << " -> " << r.status;
    EXPECT_TRUE(json::accept(r.body)) << r.body;
    EXPECT_TRUE(r.keep_alive);
  }
  const HttpResponse empty_router = client.post("/routerTransform", R"({"input":[],"destType":"ometria"})");
  EXPECT_NE(empty_router.body.find("Invalid event array"), std::string::npos) << empty_router.body;
  const HttpResponse bad_json = client.post("/v0/destinations/ometria", "[{");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_NE(bad_json.body.find("byte"), std::string::npos) << bad_json.body;
}

TEST_F(HttpRoutes, ProcessorRouteIgnoresTheContentType) {
  const std::string body = processor_body();
  const HttpResponse as_json = client.post("/v0/destinations/ometria", body);
  const HttpResponse as_text = client.post("/v0/destinations/ometria", body, {{"Content-Type", "text/plain"}});
  const HttpResponse as_form =
      client.post("/v0/destinations/ometria", body, {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(as_text.status, as_json.status);
  EXPECT_EQ(as_text.body, as_json.body);
  EXPECT_EQ(as_form.body, as_json.body);
}

TEST_F(HttpRoutes, UnknownDestinationIs404WithTheContractsMessage) {
  const HttpResponse r = client.post("/v0/destinations/mailchimp", processor_body());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body), json({{"error", "Unknown destination: mailchimp"}}));
  EXPECT_EQ(r.body, protocol::unknown_destination("mailchimp").body);
}

TEST_F(HttpRoutes, DestinationNameIsPercentDecodedBeforeTheCheck) {
  // " OMETRIA " reaches the protocol's check as it was meant; the protocol trims and lower-cases it.
  const HttpResponse r = client.post("/v0/destinations/%20OMETRIA%20", processor_body());
  const bool known = protocol::is_known_destination(" OMETRIA ");
  EXPECT_EQ(r.status == 404, !known);
}

TEST_F(HttpRoutes, RouterRouteAnswersWhatTheProtocolAnswersWithApiVersion2) {
  const std::string body = router_body();
  const protocol::Reply expected = protocol::router_transform(body, *server.transformer);
  const HttpResponse r = client.post("/routerTransform", body);
  EXPECT_EQ(r.status, expected.status);
  EXPECT_EQ(r.body, expected.body);
  EXPECT_EQ(r.header("apiVersion"), expected.api_version_header ? "2" : "");
}

TEST_F(HttpRoutes, Expect100ContinueGetsAnInterimAnswerBeforeTheBodyIsSent) {
  // What curl does for bodies over 1 KiB: send the header, wait for "100 Continue", then send the body.
  const std::string body = router_body();
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n"));
  const auto interim = raw.read_response(std::chrono::seconds(5));
  EXPECT_EQ(interim.data, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(raw.send(body));
  const HttpResponse r = parse_response(raw.read_response(std::chrono::seconds(5)).data);
  EXPECT_EQ(r.body, protocol::router_transform(body, *server.transformer).body);
}

TEST_F(HttpRoutes, Expect100ContinueWithTheBodyAlreadySentGetsOnlyTheAnswer) {
  const std::string body = router_body();
  const HttpResponse r = client.post("/routerTransform", body, {{"Expect", "100-continue"}});
  EXPECT_EQ(r.body, protocol::router_transform(body, *server.transformer).body);
}

TEST_F(HttpRoutes, ChunkedBodiesAreRead) {
  RawConnection raw("127.0.0.1", server.port());
  const std::string body = router_body();
  const std::string half1 = body.substr(0, body.size() / 2), half2 = body.substr(body.size() / 2);
  auto hex = [](std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%zx", n);
    return std::string(buf);
  };
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       hex(half1.size()) + "\r\n" + half1 + "\r\n" + hex(half2.size()) + "\r\n" + half2 +
                       "\r\n0\r\n\r\n"));
  const HttpResponse r = parse_response(raw.read_response(std::chrono::seconds(5)).data);
  EXPECT_EQ(r.body, protocol::router_transform(body, *server.transformer).body);
}

TEST_F(HttpRoutes, WrongMethodIs405WithAllow) {
  const HttpResponse r = client.get("/routerTransform");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "POST");
  EXPECT_EQ(json::parse(r.body).at("error"), "Method GET not allowed for /routerTransform (allowed: POST)");

  const HttpResponse r2 = client.post("/health", "{}");
  EXPECT_EQ(r2.status, 405);
  EXPECT_EQ(r2.header("Allow"), "GET");
  EXPECT_EQ(client.request("DELETE", "/v0/destinations/ometria").status, 405);
  EXPECT_EQ(client.request("PUT", "/metrics", "x").status, 405);
}

TEST_F(HttpRoutes, UnknownPathIs404Json) {
  for (const char* path : {"/", "/nope", "/v0/destinations", "/v0/destinations/ometria/proxy", "/v1/foo"}) {
    const HttpResponse r = client.get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(json::parse(r.body).at("error"), std::string("Not found: ") + path) << path;
  }
}

TEST_F(HttpRoutes, MetricsCountRequestsByRouteAndStatusWithLatency) {
  client.get("/health");
  client.get("/health");
  client.get("/nope");
  client.post("/v0/destinations/ometria", processor_body());
  client.get("/routerTransform");
  const HttpResponse r = client.get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body;
  EXPECT_NE(m.find("omt_http_requests_total{route=\"/health\",status=\"200\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("omt_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("omt_http_requests_total{route=\"/routerTransform\",status=\"405\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("omt_http_requests_total{route=\"/v0/destinations/{name}\",status=\""), std::string::npos);
  EXPECT_NE(m.find("omt_http_request_duration_seconds_count{route=\"/health\"} 2\n"), std::string::npos);
  EXPECT_NE(m.find("omt_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(m.find("# TYPE omt_events_total counter\n"), std::string::npos);
  EXPECT_NE(m.find("omt_events_total{type=\"identify\",outcome=\"ok\"}"), std::string::npos);
  EXPECT_NE(m.find("omt_event_errors_total{class=\"instrumentation\"}"), std::string::npos);
  EXPECT_NE(m.find("omt_http_connections_open 1\n"), std::string::npos);
}

TEST_F(HttpRoutes, MetricsCountEventsFromTheTally) {
  const std::string body = router_body();
  protocol::EventTally tally;
  protocol::router_transform(body, *server.transformer, &tally);
  client.post("/routerTransform", body);
  const std::string m = client.get("/metrics").body;
  std::size_t identify_ok = 0, identify_failed = 0;
  for (const auto& e : tally.events) {
    if (e.type != ometria::RecordType::contact) continue;
    (e.error ? identify_failed : identify_ok)++;
  }
  const std::string ok_line = "omt_events_total{type=\"identify\",outcome=\"ok\"} " + std::to_string(identify_ok) + "\n";
  const std::string failed_line =
      "omt_events_total{type=\"identify\",outcome=\"failed\"} " + std::to_string(identify_failed) + "\n";
  EXPECT_NE(m.find(ok_line), std::string::npos) << m;
  EXPECT_NE(m.find(failed_line), std::string::npos) << m;
}

TEST_F(HttpRoutes, KeepAliveServesManyRequestsOnOneConnection) {
  for (int i = 0; i < 50; ++i) {
    const HttpResponse r = client.get(i % 2 ? "/health" : "/version");
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(server.server->open_connections(), 1u);
}

TEST_F(HttpRoutes, ConnectionCloseIsHonoured) {
  const HttpResponse r = client.request("GET", "/health", {}, {{"Connection", "close"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_FALSE(client.connected());
}

TEST_F(HttpRoutes, Http10WithoutKeepAliveIsAnsweredAndClosed) {
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("GET /health HTTP/1.0\r\n\r\n"));
  const auto got = raw.read_until_closed(std::chrono::seconds(5));
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.data.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << got.data;
  EXPECT_EQ(parse_response(got.data).body, R"({"status":"ok"})");
}

TEST_F(HttpRoutes, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const auto got = raw.read_until_closed(std::chrono::seconds(5));
  ASSERT_TRUE(got.closed);
  const auto first = got.data.find("HTTP/1.1 200"), second = got.data.find("HTTP/1.1 200", first + 1),
             third = got.data.find("HTTP/1.1 404");
  EXPECT_NE(first, std::string::npos);
  EXPECT_NE(second, std::string::npos);
  EXPECT_NE(third, std::string::npos);
  EXPECT_LT(second, third);
  EXPECT_NE(got.data.find("\"version\":\"test\""), std::string::npos);
}

}  // namespace
}  // namespace omt::test
