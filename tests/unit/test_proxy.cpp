// The delivery proxy's pure parts: request parsing, the endpoint rule, the v0 / v1 replies (contract section 6)
// with Ometria's real success body, and what the request log reads of a push.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "omt/ometria/transformer.hpp"
#include "omt/protocol/proxy.hpp"

namespace {
using nlohmann::json;
using namespace omt::protocol;

const std::string kBatch = R"([{"@type":"contact","id":"c1"},{"@type":"contact","id":"c2"}])";

json proxy_body(const json& metadata, const std::string& endpoint = "https://api.ometria.com/v2/push") {
  return {{"version", "1"},
          {"type", "REST"},
          {"method", "POST"},
          {"endpoint", endpoint},
          {"userId", ""},
          {"headers", {{"X-Ometria-Auth", "key-1"}}},
          {"params", json::object()},
          {"body", {{"JSON", json::object()}, {"JSON_ARRAY", {{"batch", kBatch}}}, {"XML", json::object()}, {"FORM", json::object()}}},
          {"files", json::object()},
          {"metadata", metadata},
          {"destinationConfig", {{"apiKey", "key-1"}}}};
}

json meta(int job) { return {{"jobId", job}, {"attemptNum", 0}, {"destinationId", "d1"}, {"workspaceId", "w1"}}; }

ProxyRequest parsed(const json& body, ProxyVersion version) {
  auto r = parse_proxy_request(body.dump(), version);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : ProxyRequest{};
}

using omt::delivery::HttpAnswer;
using omt::delivery::NetworkError;
using omt::delivery::PushOutcome;

PushOutcome answered(int status, std::string body, std::optional<std::string> queue_size_remaining = std::nullopt) {
  HttpAnswer answer;
  answer.status = status;
  answer.body = std::move(body);
  answer.queue_size_remaining = std::move(queue_size_remaining);
  return PushOutcome::answered(std::move(answer));
}

const std::string kOk = R"({"status":"OK","request_id":"r-1","accepted":2,"rejected":0})";

TEST(ProxyRequestParsing, TakesTheBatchStringKeyAndMetadata) {
  const auto v0 = parsed(proxy_body(meta(7)), ProxyVersion::v0);
  EXPECT_EQ(v0.endpoint, "https://api.ometria.com/v2/push");
  EXPECT_EQ(v0.api_key, "key-1");
  EXPECT_EQ(v0.body, kBatch);  // verbatim
  ASSERT_EQ(v0.metadata.size(), 1u);
  EXPECT_EQ(json::parse(v0.metadata[0]), meta(7));
  EXPECT_EQ(v0.destination_id, "\"d1\"");
  EXPECT_EQ(v0.workspace_id, "\"w1\"");

  const auto v1 = parsed(proxy_body(json::array({meta(1), meta(2)})), ProxyVersion::v1);
  ASSERT_EQ(v1.metadata.size(), 2u);
  EXPECT_EQ(json::parse(v1.metadata[1])["jobId"], 2);

  json lower = proxy_body(meta(1));
  lower["headers"] = {{"x-ometria-auth", "key-2"}};
  EXPECT_EQ(parsed(lower, ProxyVersion::v0).api_key, "key-2");
  lower["headers"] = json::object();  // the router sends {} when the destination has no key
  EXPECT_EQ(parsed(lower, ProxyVersion::v0).api_key, "");
}

TEST(ProxyRequestParsing, RefusesWhatIsNotAProxyRequest) {
  EXPECT_EQ(parse_proxy_request("[1]", ProxyVersion::v0).error().code, omt::errc::invalid_request);
  EXPECT_EQ(parse_proxy_request("{", ProxyVersion::v0).error().code, omt::errc::invalid_json);
  json no_batch = proxy_body(meta(1));
  no_batch["body"]["JSON_ARRAY"] = json::object();
  auto r = parse_proxy_request(no_batch.dump(), ProxyVersion::v0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "body.JSON_ARRAY.batch is required: the push body as a JSON string");
  json object_metadata = proxy_body(meta(1));
  EXPECT_FALSE(parse_proxy_request(object_metadata.dump(), ProxyVersion::v1));  // v1 wants an array
  json bad_endpoint = proxy_body(meta(1));
  bad_endpoint["endpoint"] = 5;
  EXPECT_FALSE(parse_proxy_request(bad_endpoint.dump(), ProxyVersion::v0));
  EXPECT_EQ(proxy_error(r.error()).status, 400);
  EXPECT_TRUE(proxy_error(r.error()).api_version_header);
}

TEST(ProxyEndpoint, OnlyTheConfiguredOrPublicEndpoint) {
  const std::string configured = "http://127.0.0.1:4000/v2/push";
  EXPECT_TRUE(proxy_endpoint_allowed(configured, configured));
  EXPECT_TRUE(proxy_endpoint_allowed("https://api.ometria.com/v2/push", configured));
  EXPECT_TRUE(proxy_endpoint_allowed("", configured));
  EXPECT_FALSE(proxy_endpoint_allowed("https://evil.example/v2/push", configured));
  EXPECT_FALSE(proxy_endpoint_allowed("https://api.ometria.com.evil.example/v2/push", configured));
  EXPECT_FALSE(proxy_endpoint_allowed("https://api.ometria.com/v2/push/../x", configured));
  EXPECT_FALSE(proxy_endpoint_allowed("http://127.0.0.1:4001/v2/push", configured));
}

TEST(ProxyReply, V0Success) {
  const auto request = parsed(proxy_body(meta(7)), ProxyVersion::v0);
  const Reply reply = proxy_reply(request, answered(202, kOk, "49000"), ProxyVersion::v0);
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.api_version_header);
  EXPECT_EQ(reply.body,
            R"({"output":{"status":202,"message":"[Generic Response Handler] Request for destination: ometria Processed Successfully",)"
            R"("destinationResponse":{"response":{"status":"OK","request_id":"r-1","accepted":2,"rejected":0},"status":202,)"
            R"("headers":{"x-queuesize-remaining":"49000"}}}})");
}

TEST(ProxyReply, V0FailuresFollowTheGenericHandler) {
  const auto request = parsed(proxy_body(meta(7)), ProxyVersion::v0);
  struct Case {
    int status;
    int http;
    std::string error_type;
  };
  for (const auto& c : std::vector<Case>{{500, 500, "retryable"}, {503, 503, "retryable"}, {429, 429, "throttled"},
                                         {400, 400, "aborted"}, {401, 401, "aborted"}, {404, 400, "aborted"}}) {
    const Reply reply = proxy_reply(request, answered(c.status, R"({"detail":"x"})"), ProxyVersion::v0);
    EXPECT_EQ(reply.status, c.http) << c.status;
    const json out = json::parse(reply.body)["output"];
    EXPECT_EQ(out["status"], c.http);
    EXPECT_EQ(out["message"], "[Generic Response Handler] Request failed for destination ometria with status: " +
                                  std::to_string(c.status));
    EXPECT_EQ(out["destinationResponse"]["status"], c.status);
    EXPECT_EQ(out["destinationResponse"]["response"], json({{"detail", "x"}}));
    EXPECT_EQ(out["statTags"], json({{"errorCategory", "network"},
                                     {"errorType", c.error_type},
                                     {"destType", "OMETRIA"},
                                     {"module", "destination"},
                                     {"implementation", "native"},
                                     {"feature", "dataDelivery"},
                                     {"destinationId", "d1"},
                                     {"workspaceId", "w1"}}));
  }
}

TEST(ProxyReply, OmetriasRejectedCountFailsTheDeliveryAsAborted) {
  const auto request = parsed(proxy_body(json::array({meta(1), meta(2)})), ProxyVersion::v1);
  const Reply reply = proxy_reply(
      request, answered(202, R"({"status":"OK","request_id":"r-9","accepted":1,"rejected":1})"), ProxyVersion::v1);
  EXPECT_EQ(reply.status, 200);
  const json out = json::parse(reply.body)["output"];
  EXPECT_EQ(out["status"], 400);
  EXPECT_EQ(out["message"], "[Ometria Response Handler] 1 of 2 records rejected by Ometria (request_id r-9)");
  EXPECT_EQ(out["statTags"]["errorType"], "aborted");
  ASSERT_EQ(out["response"].size(), 2u);
  EXPECT_EQ(out["response"][0]["statusCode"], 400);

  // A 2xx whose status is not "OK" fails too; a 2xx without Ometria's body (nothing to contradict it) succeeds.
  const Reply not_ok = proxy_reply(request, answered(200, R"({"status":"ERROR"})"), ProxyVersion::v0);
  EXPECT_EQ(not_ok.status, 400);
  EXPECT_EQ(json::parse(not_ok.body)["output"]["message"], R"([Ometria Response Handler] Request failed for Ometria: status "ERROR")");
  EXPECT_EQ(proxy_reply(request, answered(202, ""), ProxyVersion::v0).status, 200);
  EXPECT_EQ(proxy_reply(request, answered(202, "accepted"), ProxyVersion::v0).status, 200);
}

TEST(ProxyReply, V1StringifiesTheBodyPerJobEvenOnSuccess) {
  const auto request = parsed(proxy_body(json::array({meta(1), meta(2)})), ProxyVersion::v1);
  const Reply reply = proxy_reply(request, answered(202, kOk), ProxyVersion::v1);
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.api_version_header);
  const json body = json::parse(reply.body);
  const json& out = body["output"];
  EXPECT_EQ(out["status"], 202);
  EXPECT_FALSE(out.contains("statTags"));
  ASSERT_EQ(out["response"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(out["response"][i]["statusCode"], 202);
    EXPECT_EQ(out["response"][i]["error"], kOk);
    EXPECT_EQ(out["response"][i]["metadata"], meta(i + 1));
  }
  // The contract's key order: response, status, message.
  EXPECT_EQ(reply.body.rfind(R"({"output":{"response":[{"error":)", 0), 0u);

  const Reply failed = proxy_reply(request, answered(500, "upstream broke"), ProxyVersion::v1);
  EXPECT_EQ(failed.status, 200);
  const json f = json::parse(failed.body)["output"];
  EXPECT_EQ(f["status"], 500);
  EXPECT_EQ(f["response"][1]["error"], "\"upstream broke\"");  // JSON.stringify of a text body
  EXPECT_EQ(f["response"][1]["statusCode"], 500);
  EXPECT_EQ(f["statTags"]["errorType"], "retryable");
}

TEST(ProxyReply, NetworkFailureIsRetryable) {
  const auto request = parsed(proxy_body(meta(1)), ProxyVersion::v0);
  const auto failure = PushOutcome::failure(NetworkError::connect, "connection refused");
  const Reply reply = proxy_reply(request, failure, ProxyVersion::v0);
  EXPECT_EQ(reply.status, 500);
  const json out = json::parse(reply.body)["output"];
  EXPECT_EQ(out["statTags"]["errorType"], "retryable");
  EXPECT_EQ(out["destinationResponse"]["response"], "connect: connection refused");
  EXPECT_EQ(out["destinationResponse"]["status"], 500);
  EXPECT_EQ(out["destinationResponse"]["headers"], json::object());
}

TEST(ProxyReply, AnOverloadedSenderIsThrottled) {
  const auto request = parsed(proxy_body(meta(1)), ProxyVersion::v0);
  const auto seen = seen_answer(PushOutcome::failure(NetworkError::overloaded));
  EXPECT_FALSE(seen.answered);
  EXPECT_EQ(seen.status, 429);
  EXPECT_EQ(seen.body, "overloaded");
  const json out = json::parse(proxy_reply(request, PushOutcome::failure(NetworkError::overloaded), ProxyVersion::v0).body);
  EXPECT_EQ(out["output"]["statTags"]["errorType"], "throttled");
}

TEST(ProxyReply, PassesTheSteeringHeadersOnLowerCase) {
  const auto request = parsed(proxy_body(meta(1)), ProxyVersion::v0);
  HttpAnswer answer;
  answer.status = 429;
  answer.retry_after = "3";
  answer.queue_size_limit = "50000";
  answer.queue_size_remaining = "0";
  const json out = json::parse(proxy_reply(request, PushOutcome::answered(answer), ProxyVersion::v0).body);
  EXPECT_EQ(out["output"]["destinationResponse"]["headers"],
            (json{{"retry-after", "3"}, {"x-queuesize-limit", "50000"}, {"x-queuesize-remaining", "0"}}));
}

// What the request log keeps of a proxied push: its records, and the first known type (a push may mix them).
TEST(ProxyPushShape, CountsTheRecordsAndTakesTheFirstKnownType) {
  const auto shape = proxy_push_shape(R"([{"@type":"oops"},{"id":"x"},{"@type":"order","id":"o1"},{"@type":"contact"}])");
  EXPECT_EQ(shape.records, 4u);
  ASSERT_TRUE(shape.type);
  EXPECT_EQ(*shape.type, omt::ometria::RecordType::order);
  EXPECT_EQ(proxy_push_shape(kBatch).records, 2u);
  for (const char* not_records : {"", "{}", "[]", "not json", R"([{"id":"no type"}])"}) {
    EXPECT_FALSE(proxy_push_shape(not_records).type) << not_records;
  }
  EXPECT_EQ(proxy_push_shape("{}").records, 0u);
}

}  // namespace
