// Graceful shutdown: in process (Server::shutdown) and through the real binary with SIGTERM / SIGINT.
// Requests in flight finish (answered with "Connection: close"), idle connections close at once, nothing new
// is accepted, and the process exits 0, also when the deadline cuts a stalled request off.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "running_binary.hpp"
#include "omt/protocol/rudder.hpp"
#include "test_server.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Parked {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<net::Responder> waiting;
};

net::Router parking_router(const std::shared_ptr<Parked>& parked) {
  net::Router router;
  // Captures a weak pointer: a strong one would make a cycle through the parked Responders and the server.
  router.add(net::Method::post, "/ingest", [weak = std::weak_ptr<Parked>(parked)](net::Request&, net::Responder r) {
    if (auto p = weak.lock()) {
      std::lock_guard lock(p->mutex);
      p->waiting.push_back(std::move(r));
      p->cv.notify_all();
    }
  });
  router.add(net::Method::get, "/health", [](net::Request&, net::Responder r) {
    net::Response ok;
    ok.body = R"({"status":"ok"})";
    r(std::move(ok));
  });
  return router;
}

bool wait_parked(Parked& p, std::size_t n) {
  std::unique_lock lock(p.mutex);
  return p.cv.wait_for(lock, 5s, [&] { return p.waiting.size() >= n; });
}

bool connection_refused(std::uint16_t port) {
  try {
    RawConnection probe("127.0.0.1", port, 1s);
    return false;
  } catch (const HttpClientError&) {
    return true;
  }
}

TEST(HttpShutdown, IdleConnectionsCloseAtOnce) {
  TestServer server;
  RawConnection idle("127.0.0.1", server.port());
  ASSERT_TRUE(idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(parse_response(idle.read_response(5s).data).status, 200);
  const auto start = Clock::now();
  EXPECT_TRUE(server.server->shutdown(10s));
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_TRUE(idle.read_until_closed(2s).closed);
  EXPECT_TRUE(connection_refused(server.port()));
}

TEST(HttpShutdown, RequestInFlightIsAnsweredWithConnectionClose) {
  auto parked = std::make_shared<Parked>();
  TestServer server(test_server_config(), parking_router(parked));
  auto answer = std::async(std::launch::async, [&] { return server.client(10s).post("/ingest", "x"); });
  ASSERT_TRUE(wait_parked(*parked, 1));

  auto stopped = std::async(std::launch::async, [&] { return server.server->shutdown(10s); });
  EXPECT_TRUE(wait_until([&] { return connection_refused(server.port()); }));
  EXPECT_EQ(stopped.wait_for(50ms), std::future_status::timeout);  // still waiting for the request

  net::Response r;
  r.status = 202;
  r.body = "{}";
  {
    std::lock_guard lock(parked->mutex);
    parked->waiting.front()(std::move(r));
  }
  const HttpResponse got = answer.get();
  EXPECT_EQ(got.status, 202);
  EXPECT_FALSE(got.keep_alive);
  EXPECT_TRUE(stopped.get());
}

TEST(HttpShutdown, DeadlineClosesWhatIsStillBusy) {
  auto parked = std::make_shared<Parked>();
  TestServer server(test_server_config(), parking_router(parked));
  auto answer = std::async(std::launch::async, [&] { return server.client(10s).post("/ingest", "x"); });
  ASSERT_TRUE(wait_parked(*parked, 1));
  const auto start = Clock::now();
  EXPECT_FALSE(server.server->shutdown(200ms));
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_THROW(answer.get(), HttpClientError);  // cut off, not answered
  // A late answer after shutdown is dropped quietly.
  std::lock_guard lock(parked->mutex);
  parked->waiting.front()(net::Response{});
  parked->waiting.clear();
}

// ---- the real binary ----

std::string processor_body() {
  json event = {{"message",
                 {{"type", "identify"},
                  {"userId", "u1"},
                  {"context", {{"traits", {{"email", "ann@example.com"}, {"listingId", "L1"}}}}}}},
                {"metadata", {{"jobId", 7}}},
                {"destination", {{"Config", {{"apiKey", "k"}}}}}};
  return json::array({event}).dump();
}

TEST(ServeBinary, SigtermFinishesTheRequestInFlightAndExits0) {
  TempConfig config(json{{"server", {{"shutdown_deadline", "10s"}, {"timeouts", {{"read", "30s"}}}}}});
  RunningBinary server({"--config", config.path.string()});

  RawConnection idle("127.0.0.1", server.port);
  ASSERT_TRUE(idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(parse_response(idle.read_response(5s).data).status, 200);

  const std::string body = processor_body();
  const std::string head = "POST /v0/destinations/ometria HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  RawConnection in_flight("127.0.0.1", server.port);
  // One whole request first, so the server has surely accepted this connection (a connection still in the
  // kernel's accept queue when the listener closes is reset, as with any server).
  ASSERT_TRUE(in_flight.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(parse_response(in_flight.read_response(5s).data).status, 200);
  ASSERT_TRUE(in_flight.send(head + body.substr(0, body.size() / 2)));

  server.child.signal(SIGTERM);
  ASSERT_TRUE(server.child.wait_for_line("stopped accepting", 10s)) << server.child.output();
  EXPECT_TRUE(connection_refused(server.port));
  EXPECT_TRUE(idle.read_until_closed(5s).closed);  // the idle keep-alive connection was closed

  ASSERT_TRUE(in_flight.send(body.substr(body.size() / 2))) << server.child.output();
  const auto got = in_flight.read_until_closed(10s);
  EXPECT_TRUE(got.closed);
  const HttpResponse r = parse_response(got.data);
  const protocol::Reply expected = protocol::processor_transform(body, *load_transformer());
  EXPECT_EQ(r.status, expected.status) << got.data;
  EXPECT_EQ(r.body, expected.body);
  EXPECT_FALSE(r.keep_alive);

  EXPECT_EQ(server.child.wait_exit(10s), 0) << server.child.output();
  EXPECT_NE(server.child.output().find("server stopped"), std::string::npos);
}

TEST(ServeBinary, ShutdownDeadlineCutsOffAStalledRequestAndStillExits0) {
  TempConfig config(json{{"server", {{"shutdown_deadline", "300ms"}, {"timeouts", {{"read", "30s"}}}}}});
  RunningBinary server({"--config", config.path.string()});
  RawConnection stalled("127.0.0.1", server.port);
  ASSERT_TRUE(stalled.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
  ASSERT_EQ(parse_response(stalled.read_response(100ms).data).status, 0);  // nothing answered yet

  const auto start = Clock::now();
  server.child.signal(SIGTERM);
  EXPECT_EQ(server.child.wait_exit(10s), 0) << server.child.output();
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_TRUE(stalled.read_until_closed(2s).closed);
  EXPECT_NE(server.child.output().find("shutdown deadline passed"), std::string::npos);
}

TEST(ServeBinary, SigintStopsItToo) {
  RunningBinary server({});
  HttpClient client("127.0.0.1", server.port, 5s);
  EXPECT_EQ(client.get("/version").status, 200);
  server.child.signal(SIGINT);
  EXPECT_EQ(server.child.wait_exit(10s), 0) << server.child.output();
  EXPECT_NE(server.child.output().find("received SIGINT"), std::string::npos);
}

TEST(ServeBinary, ConfigFileSetsTheLimits) {
  TempConfig config(json{{"server", {{"limits", {{"max_body_bytes", 100}}}}}});
  RunningBinary server({"--config", config.path.string()});
  HttpClient client("127.0.0.1", server.port, 5s);
  EXPECT_EQ(client.post("/routerTransform", std::string(101, ' ')).status, 413);
  server.child.signal(SIGTERM);
  EXPECT_EQ(server.child.wait_exit(10s), 0);
}

TEST(ServeBinary, FlagsOverrideTheConfigFile) {
  TempConfig config(json{{"server", {{"listen", "127.0.0.1:1"}, {"threads", 8}}}});
  RunningBinary server({"--config", config.path.string()});  // --listen 127.0.0.1:0 and --threads 2 win
  EXPECT_NE(server.port, 1);
  EXPECT_NE(server.child.output().find("(2 threads)"), std::string::npos) << server.child.output();
  server.child.signal(SIGTERM);
  EXPECT_EQ(server.child.wait_exit(10s), 0);
}

TEST(ServeBinary, BadConfigExits2NamingTheKey) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json{{"server", {{"limitz", json::object()}}}}, "server.limitz: unknown key"},
      {json{{"server", {{"threads", "two"}}}}, "server.threads: expected an integer"},
      {json{{"server", {{"timeouts", {{"idle", "5 parsecs"}}}}}}, "server.timeouts.idle"},
      {json{{"log", {{"level", "loud"}}}}, "log.level: expected one of"},
      {json{{"surver", json::object()}}, "surver: unknown key"},
  };
  for (const auto& [content, message] : cases) {
    TempConfig config(content);
    ChildProcess child(OMT_BINARY, {"serve", "--listen", "127.0.0.1:0", "--config", config.path.string()});
    EXPECT_EQ(child.wait_exit(10s), 2) << content.dump();
    EXPECT_NE(child.output().find(message), std::string::npos) << child.output();
  }
}

TEST(ServeBinary, AddressInUseExits2) {
  RunningBinary first({});
  ChildProcess second(OMT_BINARY, {"serve", "--listen", "127.0.0.1:" + std::to_string(first.port)});
  EXPECT_EQ(second.wait_exit(10s), 2);
  EXPECT_NE(second.output().find("cannot listen on 127.0.0.1:" + std::to_string(first.port)), std::string::npos)
      << second.output();
  first.child.signal(SIGTERM);
  EXPECT_EQ(first.child.wait_exit(10s), 0);
}

}  // namespace
}  // namespace omt::test
