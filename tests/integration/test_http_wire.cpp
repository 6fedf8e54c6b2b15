// How a connection moves bytes: a body already in the socket, a body that trickles in, an answer larger than the
// socket takes at once, many pipelined requests, bodies of changing sizes on one keep-alive connection. The
// server sizes a body's reads by what has arrived, and waits for the rest: every byte must
// arrive intact and in order, however the reads and writes were cut.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>

#include "test_server.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;

// A body whose every byte says where it is (a shifted or dropped piece shows).
std::string patterned(std::size_t size, std::size_t seed = 0) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096 + seed) % 26);
  return s;
}

// POST /echo answers the body it was sent (moved into the answer); POST /copy answers a copy of it, so that the
// request's buffer stays with the connection (and a large one is kept for a later body); GET /target answers the
// request's target.
TestServer echo_server(unsigned threads = 2) {
  net::Router router;
  router.add(net::Method::post, "/copy", [](net::Request& request, net::Responder respond) {
    net::Response r;
    r.content_type = "application/octet-stream";
    r.body = request.body;
    respond(std::move(r));
  });
  router.add(net::Method::post, "/echo", [](net::Request& request, net::Responder respond) {
    net::Response r;
    r.content_type = "application/octet-stream";
    r.body = std::move(request.body);
    respond(std::move(r));
  });
  router.add(net::Method::get, "/target", [](net::Request& request, net::Responder respond) {
    net::Response r;
    r.body = request.target;
    respond(std::move(r));
  });
  config::ServerConfig config = test_server_config();
  config.threads = threads;
  return TestServer(config, std::move(router));
}

// The body of one raw answer with a Content-Length: the bytes after the head (read whole here: the test client's
// parse_response stops part-way into a body of megabytes).
std::string body_of(const std::string& raw) {
  const std::size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : raw.substr(end + 4);
}

std::string post_head(std::size_t length) {
  // Connection: close, and the answer read until the server closes (whole, however long it is).
  return "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}

TEST(HttpWire, ABodyAlreadyInTheSocketIsReadWholeAndALargeAnswerWrittenWhole) {
  TestServer server = echo_server();
  RawConnection raw("127.0.0.1", server.port());
  const std::string body = patterned(3 * 1024 * 1024);  // more than the socket takes at once, both ways
  ASSERT_TRUE(raw.send(post_head(body.size()) + body));
  const auto got = raw.read_until_closed(10s);
  EXPECT_EQ(parse_response(got.data).status, 200);
  const std::string answer = body_of(got.data);
  EXPECT_EQ(answer.size(), body.size());
  EXPECT_TRUE(answer == body);
}

TEST(HttpWire, ABodyThatTricklesInIsReadWhole) {
  TestServer server = echo_server();
  RawConnection raw("127.0.0.1", server.port());
  const std::string body = patterned(300 * 1024);
  ASSERT_TRUE(raw.send(post_head(body.size()) + body.substr(0, 10)));
  for (std::size_t at = 10; at < body.size(); at += 70 * 1024) {
    std::this_thread::sleep_for(10ms);  // each piece arrives on its own: the server has read what came before
    ASSERT_TRUE(raw.send(body.substr(at, 70 * 1024)));
  }
  const auto got = raw.read_until_closed(10s);
  EXPECT_EQ(parse_response(got.data).status, 200);
  EXPECT_TRUE(body_of(got.data) == body);
}

TEST(HttpWire, BodiesOfChangingSizesOnOneKeepAliveConnection) {
  TestServer server = echo_server();
  HttpClient client = server.client();
  for (const std::size_t size : {std::size_t{10}, std::size_t{400 * 1024}, std::size_t{0}, std::size_t{70 * 1024},
                                 std::size_t{2 * 1024 * 1024}, std::size_t{3}}) {
    const std::string body = patterned(size);
    const HttpResponse answer = client.post("/echo", body);
    EXPECT_EQ(answer.status, 200) << size;
    EXPECT_TRUE(answer.body == body) << size;
    EXPECT_TRUE(answer.keep_alive) << size;
  }
}

// A large body's buffer is kept by the worker for a later large body, on any of its connections, without being
// cleared: no byte of an earlier body may show in a later one, shorter or longer, trickling in, or chunked.
TEST(HttpWire, AKeptBufferOfAnEarlierBodyNeverShowsInALaterOne) {
  TestServer server = echo_server(/*threads=*/1);  // one worker: every connection shares its kept buffers
  HttpClient first = server.client(), second = server.client();
  std::size_t seed = 0;
  for (const std::size_t size : {std::size_t{400 * 1024}, std::size_t{300 * 1024}, std::size_t{100 * 1024},
                                 std::size_t{500 * 1024}, std::size_t{70 * 1024}, std::size_t{390 * 1024}}) {
    HttpClient& client = (++seed % 2) ? first : second;
    const std::string body = patterned(size, seed);
    const HttpResponse answer = client.post("/copy", body);
    ASSERT_EQ(answer.status, 200) << size;
    ASSERT_EQ(answer.body.size(), body.size()) << size;
    EXPECT_TRUE(answer.body == body) << size;
  }
  {  // trickling in after the large bodies above
    RawConnection raw("127.0.0.1", server.port());
    const std::string body = patterned(200 * 1024, 11);
    ASSERT_TRUE(raw.send("POST /copy HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 10)));
    for (std::size_t at = 10; at < body.size(); at += 70 * 1024) {
      std::this_thread::sleep_for(10ms);
      ASSERT_TRUE(raw.send(body.substr(at, 70 * 1024)));
    }
    const auto got = raw.read_until_closed(10s);
    EXPECT_EQ(parse_response(got.data).status, 200);
    EXPECT_TRUE(body_of(got.data) == body);
  }
  {  // chunked: decoded by the parser, never into a kept buffer
    RawConnection raw("127.0.0.1", server.port());
    const std::string body = patterned(50 * 1024, 12);
    char size_hex[32];
    std::snprintf(size_hex, sizeof size_hex, "%zx", body.size());
    ASSERT_TRUE(raw.send("POST /copy HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         std::string(size_hex) + "\r\n" + body + "\r\n0\r\n\r\n"));
    const auto got = raw.read_until_closed(10s);
    EXPECT_EQ(parse_response(got.data).status, 200);
    EXPECT_TRUE(body_of(got.data) == body);
  }
}

TEST(HttpWire, ThousandsOfPipelinedRequestsAreAnsweredInOrder) {
  // The requests arrive in a few reads; each is parsed from the bytes already read, answered, then the next.
  TestServer server = echo_server();
  RawConnection raw("127.0.0.1", server.port());
  constexpr int count = 3000;
  std::string requests;
  for (int i = 0; i < count; ++i) {
    requests += "GET /target?" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n";
    requests += i + 1 == count ? "Connection: close\r\n\r\n" : "\r\n";
  }
  ASSERT_TRUE(raw.send(requests));
  const auto got = raw.read_until_closed(20s);
  ASSERT_TRUE(got.closed);
  std::size_t at = 0;
  for (int i = 0; i < count; ++i) {
    // The body, then the next answer's status line: "/target?1" does not pass for "/target?10".
    const std::string expected = "\r\n\r\n/target?" + std::to_string(i) + (i + 1 < count ? "HTTP/1.1 " : "");
    const std::size_t found = got.data.find(expected, at);
    ASSERT_NE(found, std::string::npos) << "answer " << i;
    at = found + expected.size();
  }
}

}  // namespace
}  // namespace omt::test
