// Every limit and timeout of the server, and malformed input: each is answered or cut off, never a crash or a
// hang, and the server keeps serving others. Timeouts are configured short (about 200 ms); the tests wait on
// the server's behaviour (a response, a closed connection), bounded, never on a sleep.
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "test_server.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

config::ServerConfig short_timeouts() {
  config::ServerConfig c = test_server_config();
  c.timeouts.read = 200ms;
  c.timeouts.idle = 200ms;
  c.timeouts.write = 1s;
  return c;
}

void expect_server_alive(const TestServer& server) {
  HttpClient probe = server.client(5s);
  EXPECT_EQ(probe.get("/health").status, 200);
}

TEST(HttpLimits, BodyOverTheLimitIs413AndTheConnectionCloses) {
  config::ServerConfig c = test_server_config();
  c.limits.max_body_bytes = 1024;
  TestServer server(c);
  HttpClient client = server.client();

  const HttpResponse at_limit = client.post("/routerTransform", std::string(1024, ' '));
  EXPECT_NE(at_limit.status, 413);

  const HttpResponse over = client.post("/routerTransform", std::string(1025, ' '));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(json::parse(over.body), json({{"error", "Request body exceeds 1024 bytes"}}));
  EXPECT_FALSE(over.keep_alive);
  expect_server_alive(server);
}

TEST(HttpLimits, LargeBodyOverTheLimitStillGetsIts413) {
  // The client is still sending when the server answers: the answer must not be lost to a connection reset.
  config::ServerConfig c = test_server_config();
  c.limits.max_body_bytes = 64 * 1024;
  TestServer server(c);
  RawConnection raw("127.0.0.1", server.port());
  const std::string body(3 * 1024 * 1024, 'x');
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n"));
  raw.send(body);  // may fail part-way once the server has closed: that is allowed
  const auto got = raw.read_until_closed(5s);
  EXPECT_EQ(parse_response(got.data).status, 413) << got.data.substr(0, 200);
  expect_server_alive(server);
}

TEST(HttpLimits, ChunkedBodyOverTheLimitIs413) {
  config::ServerConfig c = test_server_config();
  c.limits.max_body_bytes = 100;
  TestServer server(c);
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "40\r\n" + std::string(64, 'a') + "\r\n40\r\n" + std::string(64, 'b') + "\r\n0\r\n\r\n"));
  const auto got = raw.read_until_closed(5s);
  EXPECT_EQ(parse_response(got.data).status, 413);
  EXPECT_TRUE(got.closed);
}

TEST(HttpLimits, DefaultBodyLimitIs32MiB) {
  EXPECT_EQ(config::ServerConfig{}.limits.max_body_bytes, 32u * 1024 * 1024);
  TestServer server;
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 33554433\r\n\r\n"));
  EXPECT_EQ(parse_response(raw.read_response(5s).data).status, 413);
}

TEST(HttpLimits, HeaderBlockOverTheLimitIs431) {
  config::ServerConfig c = test_server_config();
  c.limits.max_header_bytes = 1024;
  TestServer server(c);
  HttpClient client = server.client();
  EXPECT_EQ(client.get("/health").status, 200);
  const HttpResponse r = client.request("GET", "/health", {}, {{"X-Big", std::string(2000, 'a')}});
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(json::parse(r.body), json({{"error", "Request header fields exceed 1024 bytes"}}));
  EXPECT_FALSE(r.keep_alive);
  expect_server_alive(server);
}

// Beast's basic_fields refused a field value over 64 KiB by throwing (inside a completion handler); the session's
// own parser (src/net/request_parser.hpp) keeps any value the configured limit allows.
TEST(HttpLimits, AFieldValueOver64KiBUnderARaisedLimitIsAnswered) {
  config::ServerConfig c = test_server_config();
  c.limits.max_header_bytes = 256 * 1024;
  TestServer server(c);
  // Raw bytes: the test's Beast client cannot build such a field either.
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 * 1024, 'a') + "\r\n\r\n"));
  EXPECT_EQ(parse_response(raw.read_response(5s).data).status, 200);
  ASSERT_TRUE(raw.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(parse_response(raw.read_response(5s).data).status, 200) << "the same connection goes on";
  expect_server_alive(server);
}

TEST(HttpLimits, DefaultHeaderLimitIs8KiB) {
  TestServer server;
  HttpClient client = server.client();
  EXPECT_EQ(client.request("GET", "/health", {}, {{"X-Big", std::string(7000, 'a')}}).status, 200);
  EXPECT_EQ(client.request("GET", "/health", {}, {{"X-Big", std::string(9000, 'a')}}).status, 431);
}

TEST(HttpLimits, ReadTimeoutCutsOffAStalledRequest) {
  TestServer server(short_timeouts());
  RawConnection raw("127.0.0.1", server.port());
  const auto start = Clock::now();
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Len"));
  const auto got = raw.read_until_closed(5s);
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(got.closed);
  EXPECT_TRUE(got.data.empty()) << got.data;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 3s);
  expect_server_alive(server);
}

TEST(HttpLimits, ReadTimeoutCoversTheWholeRequestNotEachRead) {
  // A client that sends one byte every 50 ms never lets a per-read timeout fire; the whole-request deadline does.
  TestServer server(short_timeouts());
  RawConnection raw("127.0.0.1", server.port());
  const std::string request = "POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
                              std::string(100, ' ');
  const auto start = Clock::now();
  std::size_t sent = 0;
  bool closed = false;
  while (sent < request.size() && Clock::now() - start < 5s) {
    if (!raw.send(request.substr(sent, 1))) {
      closed = true;
      break;
    }
    ++sent;
    // Pace the trickle by waiting for the server to hang up, 50 ms at most.
    if (raw.read_until_closed(50ms).closed) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(sent, request.size());
  EXPECT_GE(sent, 2u);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(HttpLimits, BodyReadIsInsideTheReadTimeout) {
  TestServer server(short_timeouts());
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"input\":"));
  const auto got = raw.read_until_closed(5s);
  EXPECT_TRUE(got.closed);
  EXPECT_TRUE(got.data.empty());
}

TEST(HttpLimits, ASlowClientDoesNotHoldTheOnlyThread) {
  config::ServerConfig c = test_server_config();
  c.threads = 1;
  c.timeouts.read = 30s;  // the stalled client stays for the whole test
  TestServer server(c);
  RawConnection stalled("127.0.0.1", server.port());
  ASSERT_TRUE(stalled.send("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"));
  HttpClient other = server.client(2s);
  const auto start = Clock::now();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(other.get("/health").status, 200);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(server.server->open_connections(), 2u);
}

// From now, with nothing sent: the server closes the connection once short_timeouts()' idle timeout passes.
void expect_closed_at_the_idle_timeout(RawConnection& raw) {
  const auto start = Clock::now();
  const auto got = raw.read_until_closed(5s);
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(got.closed);
  EXPECT_TRUE(got.data.empty());
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 3s);
}

TEST(HttpLimits, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  TestServer server(short_timeouts());
  RawConnection raw("127.0.0.1", server.port());
  ASSERT_TRUE(raw.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto answer = raw.read_response(5s);
  ASSERT_EQ(parse_response(answer.data).status, 200);
  ASSERT_FALSE(answer.closed);
  expect_closed_at_the_idle_timeout(raw);
  EXPECT_TRUE(wait_until([&] { return server.server->open_connections() == 0; }));
}

TEST(HttpLimits, AKeepAliveConnectionBusyPastItsTimeoutsKeepsServingThenClosesWhenIdle) {
  // One deadline per connection, re-armed lazily: a busy connection must not be cut off by a deadline of an
  // earlier request, and the idle deadline after its last answer must still close it on time.
  TestServer server(short_timeouts());
  RawConnection raw("127.0.0.1", server.port());
  const auto start = Clock::now();
  int served = 0;
  while (Clock::now() - start < 600ms) {  // three times the read and idle timeouts
    ASSERT_TRUE(raw.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto answer = raw.read_response(5s);
    ASSERT_FALSE(answer.closed) << "cut off after " << served << " answers";
    ASSERT_EQ(parse_response(answer.data).status, 200);
    ++served;
  }
  expect_closed_at_the_idle_timeout(raw);
}

TEST(HttpLimits, SilentNewConnectionIsClosedAfterTheIdleTimeout) {
  TestServer server(short_timeouts());
  RawConnection raw("127.0.0.1", server.port());
  const auto got = raw.read_until_closed(5s);
  EXPECT_TRUE(got.closed);
  EXPECT_TRUE(got.data.empty());
}

TEST(HttpLimits, IdleTimeoutIsSeparateFromTheReadTimeout) {
  config::ServerConfig c = short_timeouts();
  c.timeouts.idle = 5s;  // an idle client may wait long; a started request must finish fast
  TestServer server(c);
  RawConnection raw("127.0.0.1", server.port());
  EXPECT_FALSE(raw.read_until_closed(400ms).closed);  // longer than the read timeout: still open
  ASSERT_TRUE(raw.send("GET /heal"));
  const auto start = Clock::now();
  EXPECT_TRUE(raw.read_until_closed(5s).closed);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(HttpLimits, WriteTimeoutCutsOffAClientThatDoesNotRead) {
  config::ServerConfig c = test_server_config();
  c.timeouts.write = 200ms;
  net::Router router;
  router.add(net::Method::get, "/huge", [](net::Request&, net::Responder respond) {
    net::Response r;
    r.body.assign(64u << 20, 'x');  // far more than the socket buffers hold
    respond(std::move(r));
  });
  router.add(net::Method::get, "/health", [](net::Request&, net::Responder respond) { respond(net::Response{}); });
  TestServer server(c, std::move(router));
  RawConnection reader_that_never_reads("127.0.0.1", server.port());
  ASSERT_TRUE(reader_that_never_reads.send("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return server.server->open_connections() == 1; }));
  const auto start = Clock::now();
  EXPECT_TRUE(wait_until([&] { return server.server->open_connections() == 0; }, 5s));
  EXPECT_LT(Clock::now() - start, 3s);
  HttpClient probe = server.client(5s);
  EXPECT_EQ(probe.get("/health").status, 200);
}

TEST(HttpLimits, ConnectionsOverTheMaximumGet503AtOnce) {
  config::ServerConfig c = test_server_config();
  c.limits.max_connections = 4;
  TestServer server(c);
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<HttpClient>("127.0.0.1", server.port(), 5s));
    ASSERT_EQ(clients.back()->get("/health").status, 200);
  }
  EXPECT_EQ(server.server->open_connections(), 4u);

  RawConnection fifth("127.0.0.1", server.port());
  const auto start = Clock::now();
  const auto got = fifth.read_until_closed(5s);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(got.closed);
  const HttpResponse r = parse_response(got.data);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body).at("error"), "Too many connections, retry later");

  // The four keep working; closing one makes room.
  for (auto& client : clients) EXPECT_EQ(client->get("/version").status, 200);
  clients.pop_back();
  ASSERT_TRUE(wait_until([&] { return server.server->open_connections() == 3; }));
  HttpClient again = server.client();
  EXPECT_EQ(again.get("/health").status, 200);
  EXPECT_NE(server.metrics.render_prometheus().find("omt_http_connections_rejected_total 1\n"), std::string::npos);
}

TEST(HttpMalformed, GarbageGets400AndTheServerLivesOn) {
  TestServer server(short_timeouts());
  const std::vector<std::string> garbage = {
      std::string("\x00\x01\x02\x03\r\n\r\n", 8),
      "HELLO\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /health HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
      "POST /routerTransform HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "POST /routerTransform HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST /routerTransform HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST /routerTransform HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
      "G\xc3\xa9T /health HTTP/1.1\r\n\r\n",
  };
  for (const std::string& bytes : garbage) {
    RawConnection raw("127.0.0.1", server.port());
    ASSERT_TRUE(raw.send(bytes));
    const auto got = raw.read_until_closed(5s);
    EXPECT_TRUE(got.closed) << json(bytes).dump();
    const HttpResponse r = parse_response(got.data);
    EXPECT_EQ(r.status, 400) << json(bytes).dump() << " -> " << got.data;
    if (r.status == 400) {
      EXPECT_TRUE(json::parse(r.body).contains("error"));
    }
  }
  expect_server_alive(server);
}

TEST(HttpMalformed, TruncatedRequestsAndAbruptClosesNeverCrash) {
  TestServer server(short_timeouts());
  const std::string full = "POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{\"input\":[]}        ";
  for (std::size_t cut = 1; cut < full.size(); cut += 7) {
    RawConnection raw("127.0.0.1", server.port());
    ASSERT_TRUE(raw.send(full.substr(0, cut)));
    // Closed by us before the request is complete: the server must simply drop it.
  }
  ASSERT_TRUE(wait_until([&] { return server.server->open_connections() == 0; }));
  expect_server_alive(server);
}

TEST(HttpMalformed, RandomBytesNeverCrash) {
  TestServer server(short_timeouts());
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255), length(1, 600);
  const std::string prefixes[] = {"", "GET /health HTTP/1.1\r\n", "POST /routerTransform HTTP/1.1\r\nContent-Length: 50\r\n\r\n"};
  for (int i = 0; i < 60; ++i) {
    std::string bytes = prefixes[i % 3];
    const int n = length(rng);
    for (int k = 0; k < n; ++k) bytes += static_cast<char>(byte(rng));
    RawConnection raw("127.0.0.1", server.port());
    raw.send(bytes);
    raw.shutdown_send();
    const auto got = raw.read_until_closed(5s);
    EXPECT_TRUE(got.closed) << i;
  }
  expect_server_alive(server);
}

}  // namespace
}  // namespace omt::test
