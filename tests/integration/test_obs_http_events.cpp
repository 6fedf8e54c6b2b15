// obs/http_events: each server outcome writes the line users have always read (text format), adds its name and
// fields in the JSON format, redacts request targets, bodies and exception texts, and bumps its series.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "omt/obs/http_events.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool ends_with(const std::string& line, const std::string& tail) { return line.ends_with(tail); }

bool has_line(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(HttpEvents, RequestServedCountsByRouteAndStatusAndWritesTheAccessLine) {
  obs::Registry registry;
  obs::HttpEvents events(registry, {"/health", "/v1/track"});
  LogCapture capture({"debug", obs::LogFormat::text, false});
  events.emit(obs::RequestServed{&events.route(0), 7, "GET /health?email=ann@example.com", 200, 1500us, "{}"});
  events.emit(obs::RequestServed{&events.route(1), 7, "POST /v1/track", 413, 2ms, ""});
  events.emit(obs::RequestServed{&events.invalid_route(), 8, "", 431, 0ms, ""});
  events.emit(obs::RequestServed{&events.unmatched_route(), 9, "GET /nope", 404, 0ms, ""});
  events.emit(obs::RequestServed{&events.route(0), 9, "GET /health", 999, 0ms, ""});  // out of range: 500
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(ends_with(lines[0], " debug connection 7: GET /health?email=<email> -> 200 in 1.5 ms")) << lines[0];
  EXPECT_TRUE(ends_with(lines[1], " debug connection 7: POST /v1/track -> 413 in 2.0 ms")) << lines[1];
  EXPECT_TRUE(ends_with(lines[2], " debug connection 8: - -> 431 in 0.0 ms")) << lines[2];

  const std::string m = registry.render_prometheus();
  EXPECT_TRUE(has_line(m, "omt_http_requests_total{route=\"/health\",status=\"200\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_requests_total{route=\"/health\",status=\"500\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_requests_total{route=\"/v1/track\",status=\"413\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_requests_total{route=\"invalid\",status=\"431\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_requests_total{route=\"unmatched\",status=\"404\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_request_duration_seconds_count{route=\"/health\"} 2")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_request_duration_seconds_count{route=\"invalid\"} 1")) << m;
}

TEST(HttpEvents, BelowDebugARequestIsCountedButNotLogged) {
  obs::Registry registry;
  obs::HttpEvents events(registry, {"/health"});
  LogCapture capture({"info", obs::LogFormat::text, false});
  EXPECT_FALSE(obs::HttpEvents::access_lines_on());
  events.emit(obs::RequestServed{&events.route(0), 1, "GET /health", 200, 1ms, "{}"});
  events.emit(obs::RequestBodyRead{1, "POST /x", "{\"a\":1}", ""});
  events.emit(obs::ConnectionTimedOut{1});
  EXPECT_TRUE(capture.lines().empty());
  EXPECT_TRUE(has_line(registry.render_prometheus(), "omt_http_requests_total{route=\"/health\",status=\"200\"} 1"));
}

TEST(HttpEvents, AtTraceBodiesAreRedactedAndACodedBodyIsToldByItsSizeOnly) {
  obs::Registry registry;
  obs::HttpEvents events(registry, {"/v1/track"});
  LogCapture capture({"trace", obs::LogFormat::text, false});
  events.emit(obs::RequestBodyRead{3, "POST /v1/track", R"({"email":"ann@example.com"})", ""});
  events.emit(obs::RequestBodyRead{3, "POST /v1/track", R"({"email":"ann@example.com"})", "Identity"});
  events.emit(obs::RequestBodyRead{3, "POST /v1/track", "\x1f\x8b compressed", "gzip"});
  events.emit(obs::RequestBodyRead{3, "POST /v1/track", "", ""});  // no body: no line
  events.emit(obs::RequestServed{&events.route(0), 3, "POST /v1/track", 200, 1ms, R"({"to":"bob@example.org"})"});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(ends_with(lines[0], R"( trace connection 3: POST /v1/track body: {"email":"<email>"})")) << lines[0];
  EXPECT_TRUE(ends_with(lines[1], R"( trace connection 3: POST /v1/track body: {"email":"<email>"})")) << lines[1];
  EXPECT_TRUE(ends_with(lines[2], " trace connection 3: POST /v1/track body: 13 bytes, Content-Encoding gzip")) << lines[2];
  EXPECT_TRUE(ends_with(lines[3], " debug connection 3: POST /v1/track -> 200 in 1.0 ms")) << lines[3];
  EXPECT_TRUE(ends_with(lines[4], R"( trace connection 3: answer body: {"to":"<email>"})")) << lines[4];
}

TEST(HttpEvents, JsonLinesCarryTheEventAndItsFields) {
  obs::Registry registry;
  obs::HttpEvents events(registry, {"/health"});
  LogCapture capture({"debug", obs::LogFormat::json, false});
  events.emit(obs::RequestServed{&events.route(0), 4, "GET /health?phone=+447700900123", 200, 2ms, ""});
  events.emit(obs::ServerListening{"127.0.0.1:9090", 2});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  const json served = json::parse(lines[0]);
  EXPECT_EQ(served["event"], "request_served");
  EXPECT_EQ(served["connection"], 4);
  EXPECT_EQ(served["method"], "GET");
  EXPECT_EQ(served["target"], "/health?phone=<phone>");
  EXPECT_EQ(served["status"], 200);
  EXPECT_EQ(served["route"], "/health");
  EXPECT_EQ(served["msg"], "connection 4: GET /health?phone=<phone> -> 200 in 2.0 ms");
  const json listening = json::parse(lines[1]);
  EXPECT_EQ(listening["event"], "server_listening");
  EXPECT_EQ(listening["endpoint"], "127.0.0.1:9090");
  EXPECT_EQ(listening["threads"], 2);
}

TEST(HttpEvents, TheServersLifeAndFailuresKeepTheirLines) {
  obs::Registry registry;
  obs::HttpEvents events(registry, {});
  LogCapture capture({"debug", obs::LogFormat::text, false});
  events.emit(obs::ServerListening{"[::1]:8080", 4});
  events.emit(obs::AcceptFailed{"Too many open files"});
  events.emit(obs::ConnectionTimedOut{12});
  events.emit(obs::HandlerThrew{"/v1/track/ann@example.com", "bad ann@example.com"});
  events.emit(obs::HandlerThrew{"/v1/track", nullptr});
  events.emit(obs::ServerThreadThrew{"oops 07700 900123"});
  events.emit(obs::ServerThreadThrew{nullptr});
  events.emit(obs::StoppedAccepting{10000ms, 3});
  events.emit(obs::ShutdownDeadlinePassed{2});
  events.emit(obs::ServerStopped{});
  const std::vector<std::string> expected = {
      " info listening on [::1]:8080 (4 threads)",
      " warning accept failed: Too many open files",
      " debug connection 12: timed out",
      " error handler for /v1/track/<email> threw: bad <email>",
      " error handler for /v1/track threw a non-exception",
      " error uncaught exception in the server: oops <phone>",
      " error uncaught non-exception in the server",
      " info stopped accepting; waiting up to 10000 ms for 3 open connection(s)",
      " warning shutdown deadline passed with 2 connection(s) still busy; closing them",
      " info server stopped",
  };
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(ends_with(lines[i], expected[i])) << lines[i];
}

TEST(HttpEvents, ConnectionsOpenAndRejectedAreCounted) {
  obs::Registry registry;
  obs::HttpEvents events(registry, {});
  events.emit(obs::ConnectionOpened{});
  events.emit(obs::ConnectionOpened{});
  events.emit(obs::ConnectionClosed{});
  events.emit(obs::ConnectionRejected{});
  const std::string m = registry.render_prometheus();
  EXPECT_TRUE(has_line(m, "omt_http_connections_open 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_http_connections_rejected_total 1")) << m;
}

}  // namespace
}  // namespace omt::test
