// The delivery proxy (/v0|v1/destinations/ometria/proxy) through the real server and the real HTTP sender to the
// fake Ometria (plain http, allow_plain_http): 202, 500, 429, 400, Ometria's rejected count, the endpoint rule,
// and a /routerTransform batch taken through the proxy as rudder-server does.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <future>
#include <thread>

#include "fake_ometria.hpp"
#include "omt/net/ingest_routes.hpp"
#include "omt/net/https_sender.hpp"
#include "test_server.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using omt::testing::FakeOmetria;
using omt::testing::FakeOmetriaOptions;
using omt::testing::ScriptedAnswer;

const std::string kBatch = R"([{"@type":"contact","id":"c1","email":"a@example.com"},{"@type":"contact","id":"c2"}])";

FakeOmetriaOptions fake_options() {
  FakeOmetriaOptions options;
  options.keys = {"key-1"};
  return options;
}

json meta(int job) { return {{"jobId", job}, {"attemptNum", 0}, {"destinationId", "d1"}, {"workspaceId", "w1"}}; }

json proxy_request(const json& metadata, const std::string& endpoint = "https://api.ometria.com/v2/push",
                   const std::string& key = "key-1", const std::string& batch = kBatch) {
  return {{"version", "1"},
          {"type", "REST"},
          {"method", "POST"},
          {"endpoint", endpoint},
          {"userId", ""},
          {"headers", {{"X-Ometria-Auth", key}}},
          {"params", json::object()},
          {"body", {{"JSON", json::object()}, {"JSON_ARRAY", {{"batch", batch}}}, {"XML", json::object()}, {"FORM", json::object()}}},
          {"files", json::object()},
          {"metadata", metadata},
          {"destinationConfig", {{"apiKey", key}}}};
}

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest() : fake_(fake_options()) {
    omt::net::SenderOptions options;
    options.allow_plain_http = true;
    options.response_timeout = 5s;
    sender_ = omt::net::make_https_sender(io_, options);
    io_thread_ = std::thread([this] { io_.run(); });

    omt::net::Router router;
    omt::net::register_proxy_routes(router, omt::net::ProxyContext{sender_, fake_.url(), {}});
    server_ = std::make_unique<omt::test::TestServer>(omt::test::test_server_config(), std::move(router));
  }
  ~ProxyTest() override {
    // A push's completion runs on the sender's thread and may still be dropping the last reference to its
    // (answered) connection, whose destructor counts into the server's metrics: let that thread get past it
    // before the server and its registry go.
    std::promise<void> idle;
    boost::asio::post(io_, [&idle] { idle.set_value(); });
    idle.get_future().wait();
    server_.reset();  // the routes hold the last copies of the sender
    sender_.reset();
    work_.reset();
    io_thread_.join();
  }

  omt::test::HttpResponse post(const std::string& target, const json& body) {
    return server_->client().post(target, body.dump(), {{"Content-Type", "application/json"}});
  }

  FakeOmetria fake_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::shared_ptr<omt::delivery::Sender> sender_;
  std::thread io_thread_;
  std::unique_ptr<omt::test::TestServer> server_;
};

TEST_F(ProxyTest, V0DeliversTheBatchAndReportsOmetriasAnswer) {
  const auto response = post("/v0/destinations/ometria/proxy", proxy_request(meta(7)));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("apiVersion"), "2");
  const json out = json::parse(response.body)["output"];
  EXPECT_EQ(out["status"], 202);
  EXPECT_EQ(out["message"], "[Generic Response Handler] Request for destination: ometria Processed Successfully");
  EXPECT_EQ(out["destinationResponse"]["status"], 202);
  EXPECT_EQ(out["destinationResponse"]["response"]["status"], "OK");
  EXPECT_EQ(out["destinationResponse"]["response"]["accepted"], 2);
  EXPECT_FALSE(out.contains("statTags"));

  // The batch string arrived verbatim, with the request's key, at the configured endpoint.
  const auto records = fake_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].api_key, "key-1");
  EXPECT_EQ(json::parse(records[0].json), json::parse(R"({"@type":"contact","id":"c1","email":"a@example.com"})"));
  const auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/v2/push");
  EXPECT_EQ(requests[0].body_bytes, kBatch.size());
  EXPECT_EQ(requests[0].content_type, "application/json");
}

TEST_F(ProxyTest, V1AnswersPerJob) {
  const auto response = post("/v1/destinations/ometria/proxy", proxy_request(json::array({meta(1), meta(2)})));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("apiVersion"), "2");
  const json out = json::parse(response.body)["output"];
  EXPECT_EQ(out["status"], 202);
  ASSERT_EQ(out["response"].size(), 2u);
  EXPECT_EQ(out["response"][0]["statusCode"], 202);
  EXPECT_EQ(out["response"][1]["metadata"], meta(2));
  EXPECT_EQ(json::parse(out["response"][0]["error"].get<std::string>())["request_id"], "fake-1");
}

TEST_F(ProxyTest, FailuresCarryStatusAndErrorType) {
  struct Case {
    int scripted;
    int v0_http;
    std::string error_type;
  };
  for (const auto& c : std::vector<Case>{{500, 500, "retryable"}, {429, 429, "throttled"}, {400, 400, "aborted"}}) {
    fake_.script(ScriptedAnswer::with_status(c.scripted, c.scripted == 429 ? std::optional<std::string>("3") : std::nullopt));
    auto response = post("/v0/destinations/ometria/proxy", proxy_request(meta(1)));
    EXPECT_EQ(response.status, c.v0_http) << response.body;
    json out = json::parse(response.body)["output"];
    EXPECT_EQ(out["status"], c.scripted);
    EXPECT_EQ(out["destinationResponse"]["status"], c.scripted);
    EXPECT_EQ(out["statTags"]["errorType"], c.error_type);
    EXPECT_EQ(out["statTags"]["feature"], "dataDelivery");
    EXPECT_EQ(out["statTags"]["destinationId"], "d1");
    if (c.scripted == 429) {
      EXPECT_EQ(out["destinationResponse"]["headers"]["retry-after"], "3");
    }

    fake_.script(ScriptedAnswer::with_status(c.scripted));
    response = post("/v1/destinations/ometria/proxy", proxy_request(json::array({meta(1), meta(2)})));
    EXPECT_EQ(response.status, 200) << response.body;
    out = json::parse(response.body)["output"];
    EXPECT_EQ(out["status"], c.scripted);
    EXPECT_EQ(out["response"][1]["statusCode"], c.scripted);
    EXPECT_EQ(out["statTags"]["errorType"], c.error_type);
  }
  EXPECT_EQ(fake_.record_count(), 0u);
}

TEST_F(ProxyTest, AnUnknownKeyIsAborted) {
  const auto response = post("/v0/destinations/ometria/proxy", proxy_request(meta(1), "https://api.ometria.com/v2/push", "key-bad"));
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(json::parse(response.body)["output"]["statTags"]["errorType"], "aborted");
}

TEST_F(ProxyTest, RecordsOmetriaRejectsFailTheDelivery) {
  // The fake counts a record without "id" as rejected, as Ometria does after answering 202.
  const std::string batch = R"([{"@type":"contact","id":"c1"},{"@type":"contact"}])";
  const auto response =
      post("/v1/destinations/ometria/proxy", proxy_request(json::array({meta(1)}), fake_.url(), "key-1", batch));
  ASSERT_EQ(response.status, 200);
  const json out = json::parse(response.body)["output"];
  EXPECT_EQ(out["status"], 400);
  EXPECT_EQ(out["message"], "[Ometria Response Handler] 1 of 2 records rejected by Ometria (request_id fake-1)");
  EXPECT_EQ(out["statTags"]["errorType"], "aborted");
}

TEST_F(ProxyTest, AnotherEndpointIs400AndNothingIsSent) {
  for (const std::string endpoint : {"http://127.0.0.1:1/v2/push", "https://attacker.example/collect"}) {
    const auto response = post("/v0/destinations/ometria/proxy", proxy_request(meta(1), endpoint));
    EXPECT_EQ(response.status, 400);
    EXPECT_NE(json::parse(response.body)["error"].get<std::string>().find("not the configured Ometria endpoint"),
              std::string::npos);
  }
  auto response = post("/v0/destinations/ometria/proxy", json::array());
  EXPECT_EQ(response.status, 400);
  response = post("/v0/destinations/mailchimp/proxy", proxy_request(meta(1)));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(ProxyTest, NoAnswerIsARetryable500) {
  fake_.script(ScriptedAnswer::dropped());
  const auto response = post("/v0/destinations/ometria/proxy", proxy_request(meta(1)));
  EXPECT_EQ(response.status, 500) << response.body;
  EXPECT_EQ(json::parse(response.body)["output"]["statTags"]["errorType"], "retryable");
}

// What rudder-server does with transformerProxy=true: /routerTransform's batchedRequest plus the jobs' metadata.
TEST(ProxyWithRouterTransform, ABatchedRequestGoesThroughTheProxy) {
  FakeOmetria fake(fake_options());
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  omt::net::SenderOptions options;
  options.allow_plain_http = true;
  std::shared_ptr<omt::delivery::Sender> sender = omt::net::make_https_sender(io, options);
  std::thread io_thread([&] { io.run(); });
  {
    omt::obs::Registry metrics;
    omt::net::Router router;
    omt::net::add_transformer_routes(router, omt::test::load_transformer(), metrics);
    omt::net::register_proxy_routes(router, omt::net::ProxyContext{sender, fake.url(), {}});
    omt::test::TestServer server(omt::test::test_server_config(), std::move(router));
    auto client = server.client();

    json input = json::array();
    for (int i = 0; i < 3; ++i)
      input.push_back({{"message",
                        {{"type", "identify"},
                         {"userId", "u" + std::to_string(i)},
                         {"context", {{"traits", {{"email", "u@example.com"}, {"listingId", "l" + std::to_string(i)}}}}}}},
                       {"metadata", meta(i)},
                       {"destination", {{"ID", "d1"}, {"Config", {{"apiKey", "key-1"}}}}}});
    auto routed = client.post("/routerTransform", json{{"input", input}, {"destType", "ometria"}}.dump());
    ASSERT_EQ(routed.status, 200) << routed.body;
    const json entry = json::parse(routed.body)["output"][0];
    json request = entry["batchedRequest"];
    request["metadata"] = entry["metadata"];
    request["destinationConfig"] = entry["destination"]["Config"];

    const auto delivered = client.post("/v1/destinations/ometria/proxy", request.dump());
    ASSERT_EQ(delivered.status, 200) << delivered.body;
    const json out = json::parse(delivered.body)["output"];
    EXPECT_EQ(out["status"], 202);
    EXPECT_EQ(out["response"].size(), 3u);
    ASSERT_EQ(fake.record_count(), 3u);
    EXPECT_EQ(fake.records()[2].id, "l2");
    EXPECT_EQ(fake.pushes().size(), 1u);
  }
  sender.reset();
  work.reset();
  io_thread.join();
}

}  // namespace
