// Many keep-alive connections with mixed requests at once (every answer checked), and handlers that answer
// asynchronously from other threads, throw, or forget to answer.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "omt/protocol/rudder.hpp"
#include "test_server.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string processor_body(int n) {
  json event = {{"message",
                 {{"type", "identify"},
                  {"userId", "user-" + std::to_string(n)},
                  {"context", {{"traits", {{"email", "u" + std::to_string(n) + "@example.com"}, {"listingId", "L"}}}}}}},
                {"metadata", {{"jobId", n}}},
                {"destination", {{"Config", {{"apiKey", "k"}}}}}};
  return json::array({event}).dump();
}

TEST(HttpConcurrency, SixtyFourKeepAliveConnectionsWithMixedRequests) {
  TestServer server;
  constexpr int connections = 64;
  constexpr int requests_each = 30;
  std::atomic<int> failures{0};
  std::atomic<int> answered{0};
  std::mutex failure_mutex;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard lock(failure_mutex);
      first_failure = what;
    }
  };
  const std::string features = protocol::features_json();

  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      try {
        HttpClient client = server.client(20s);
        ready.fetch_add(1);
        for (int i = 0; i < requests_each; ++i) {
          const int n = c * 1000 + i;
          HttpResponse r;
          switch (i % 6) {
            case 0: {
              r = client.get("/health");
              if (r.status != 200 || r.body != R"({"status":"ok"})") fail("health: " + r.body);
              break;
            }
            case 1: {
              r = client.get("/features");
              if (r.status != 200 || r.body != features) fail("features: " + r.body);
              break;
            }
            case 2: {
              const std::string body = processor_body(n);
              const protocol::Reply expected = protocol::processor_transform(body, *server.transformer);
              r = client.post("/v0/destinations/ometria", body);
              if (r.status != expected.status || r.body != expected.body) fail("processor " + std::to_string(n) + ": " + r.body);
              if (expected.api_version_header && r.header("apiVersion") != "2") fail("apiVersion missing");
              break;
            }
            case 3: {
              const std::string body = json{{"input", json::array({json::parse(processor_body(n))[0]})},
                                            {"destType", "ometria"}}
                                           .dump();
              const protocol::Reply expected = protocol::router_transform(body, *server.transformer);
              r = client.post("/routerTransform", body);
              if (r.status != expected.status || r.body != expected.body) fail("router " + std::to_string(n) + ": " + r.body);
              break;
            }
            case 4: {
              r = client.get("/nope/" + std::to_string(n));
              if (r.status != 404 || json::parse(r.body).at("error") != "Not found: /nope/" + std::to_string(n)) {
                fail("404: " + r.body);
              }
              break;
            }
            case 5: {
              r = client.post("/v0/destinations/dest" + std::to_string(n), "[]");
              if (r.status != 404 || r.body != protocol::unknown_destination("dest" + std::to_string(n)).body) {
                fail("unknown destination: " + r.body);
              }
              break;
            }
          }
          if (!r.keep_alive || !client.connected()) fail("connection not kept alive");
          answered.fetch_add(1);
        }
      } catch (const std::exception& e) {
        fail(std::string("client error: ") + e.what());
      }
    });
  }
  // All 64 connected at once (each holds its connection open until its last request).
  EXPECT_TRUE(wait_until([&] { return ready.load() == connections || failures.load() > 0; }, 20s));
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_EQ(answered.load(), connections * requests_each);
  const std::string metrics = server.metrics.render_prometheus();
  EXPECT_NE(metrics.find("omt_http_requests_total{route=\"/health\",status=\"200\"} " +
                         std::to_string(connections * requests_each / 6) + "\n"),
            std::string::npos);
}

// A handler that hands its Responder to another thread, like an ingest route waiting for a durable write.
struct Parked {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<net::Responder> waiting;

  void park(net::Responder r) {
    std::lock_guard lock(mutex);
    waiting.push_back(std::move(r));
    cv.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, limit, [&] { return waiting.size() >= n; });
  }
  net::Responder take() {
    std::lock_guard lock(mutex);
    net::Responder r = waiting.front();
    waiting.erase(waiting.begin());
    return r;
  }
};

net::Router async_router(std::shared_ptr<Parked> parked) {
  net::Router router;
  router.add(net::Method::post, "/ingest", [parked](net::Request& request, net::Responder respond) {
    // The request is only valid during the call: copy what the later answer needs.
    auto echo = std::make_shared<std::string>(std::move(request.body));
    parked->park(net::Responder(respond));
    (void)echo;
  });
  router.add(net::Method::get, "/throws", [](net::Request&, net::Responder) { throw std::runtime_error("boom"); });
  router.add(net::Method::get, "/forgets", [](net::Request&, net::Responder) {});
  router.add(net::Method::get, "/twice", [](net::Request&, net::Responder respond) {
    respond(net::Response::json_error(409, "first"));
    respond(net::Response::json_error(500, "second"));
  });
  router.add(net::Method::get, "/later", [](net::Request&, net::Responder respond) {
    std::thread([respond] {
      net::Response r;
      r.body = R"({"from":"another thread"})";
      respond(std::move(r));
    }).detach();
  });
  return router;
}

TEST(HttpAsyncHandlers, AnswerFromAnotherThreadAfterTheHandlerReturned) {
  auto parked = std::make_shared<Parked>();
  TestServer server(test_server_config(), async_router(parked));
  auto answer = std::async(std::launch::async, [&] {
    HttpClient client = server.client(5s);
    return client.post("/ingest", "payload");
  });
  ASSERT_TRUE(parked->wait_for(1));
  // The connection waits without a timeout while the handler's work is pending.
  EXPECT_EQ(answer.wait_for(50ms), std::future_status::timeout);
  net::Response r;
  r.status = 202;
  r.body = R"({"accepted":1})";
  parked->take()(std::move(r));
  const HttpResponse got = answer.get();
  EXPECT_EQ(got.status, 202);
  EXPECT_EQ(got.body, R"({"accepted":1})");
}

TEST(HttpAsyncHandlers, ManyParkedRequestsAnsweredOutOfOrder) {
  auto parked = std::make_shared<Parked>();
  TestServer server(test_server_config(), async_router(parked));
  constexpr int n = 16;
  std::vector<std::future<HttpResponse>> answers;
  for (int i = 0; i < n; ++i) {
    answers.push_back(std::async(std::launch::async, [&] { return server.client(5s).post("/ingest", "x"); }));
  }
  ASSERT_TRUE(parked->wait_for(n));
  std::vector<net::Responder> all;
  for (int i = 0; i < n; ++i) all.push_back(parked->take());
  for (int i = n - 1; i >= 0; --i) {
    net::Response r;
    r.body = "{}";
    all[static_cast<std::size_t>(i)](std::move(r));
  }
  for (auto& a : answers) EXPECT_EQ(a.get().status, 200);
}

TEST(HttpAsyncHandlers, AnswerFromADetachedThread) {
  TestServer server(test_server_config(), async_router(std::make_shared<Parked>()));
  HttpClient client = server.client(5s);
  for (int i = 0; i < 20; ++i) {
    const HttpResponse r = client.get("/later");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body, R"({"from":"another thread"})");
  }
}

TEST(HttpAsyncHandlers, ThrowingHandlerGets500AndTheConnectionLivesOn) {
  TestServer server(test_server_config(), async_router(std::make_shared<Parked>()));
  HttpClient client = server.client(5s);
  const HttpResponse r = client.get("/throws");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(json::parse(r.body), json({{"error", "Internal Server Error"}}));
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(client.get("/throws").status, 500);
  EXPECT_EQ(client.get("/later").status, 200);
}

TEST(HttpAsyncHandlers, HandlerThatNeverAnswersGets500) {
  TestServer server(test_server_config(), async_router(std::make_shared<Parked>()));
  HttpClient client = server.client(5s);
  const HttpResponse r = client.get("/forgets");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(client.get("/later").status, 200);
}

// A handler's thread may hold a Responder past the server's shutdown, and past the metrics registry the server
// counted into: dropping it then must touch neither (ASan names the freed gauge otherwise), and shutdown leaves
// the open-connections gauge at 0, not at the sessions such threads keep alive.
TEST(HttpAsyncHandlers, AResponderHeldPastShutdownAndTheRegistryTouchesNeither) {
  auto registry = std::make_unique<obs::Registry>();
  const obs::Gauge& open = registry->gauge("omt_http_connections_open", "Open client connections");
  auto parked = std::make_shared<Parked>();
  auto started = net::Server::start(test_server_config(), async_router(parked), *registry);
  ASSERT_TRUE(started) << started.error().message;
  std::unique_ptr<net::Server> server = std::move(*started);
  const std::uint16_t port = server->local_endpoint().port;
  auto answer = std::async(std::launch::async, [port] {
    try {
      return HttpClient("127.0.0.1", port, 5s).post("/ingest", "payload").status;
    } catch (const std::exception&) {
      return 0;  // the connection closed unanswered, as shutdown's deadline passed
    }
  });
  ASSERT_TRUE(parked->wait_for(1));
  EXPECT_EQ(open.value(), 1);

  server->shutdown(0ms);
  EXPECT_EQ(open.value(), 0) << "a session kept alive by its Responder still counted open after shutdown";
  EXPECT_EQ(answer.get(), 0);
  server.reset();
  registry.reset();

  net::Response late;
  late.body = "{}";
  net::Responder responder = parked->take();
  responder(std::move(late));  // dropped: the connection is closed
}  // the last Responder goes here, and with it the session

TEST(HttpAsyncHandlers, OnlyTheFirstAnswerCounts) {
  TestServer server(test_server_config(), async_router(std::make_shared<Parked>()));
  HttpClient client = server.client(5s);
  EXPECT_EQ(client.get("/twice").status, 409);
  EXPECT_EQ(client.get("/twice").status, 409);
}

}  // namespace
}  // namespace omt::test
