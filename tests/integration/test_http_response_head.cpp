// The server writes its own answer heads (omt/net/response_head.hpp): byte for byte what Beast's serializer
// wrote for the same answer, the way the server used to build it (set Content-Type unless 204, set each extra
// header, keep_alive, prepare_payload), over every status and header shape the routes use.
#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <string>

#include "omt/net/response_head.hpp"

namespace omt::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// What Beast writes for r: head and body together, as the server sent them before.
std::string beast_wire(const net::Response& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> response(static_cast<http::status>(r.status), version);
  if (r.status != 204) response.set(http::field::content_type, std::string(r.content_type));
  for (const auto& [name, value] : r.headers) response.set(name, value);
  response.keep_alive(keep_alive);
  response.body() = r.body;
  response.prepare_payload();
  http::response_serializer<http::string_body> serializer(response);
  std::string wire;
  beast::error_code ec;
  while (!serializer.is_done()) {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
        const boost::asio::const_buffer b = *it;
        wire.append(static_cast<const char*>(b.data()), b.size());
        serializer.consume(b.size());
      }
    });
    EXPECT_FALSE(ec) << ec.message();
  }
  return wire;
}

std::string our_wire(const net::Response& r, unsigned version, bool keep_alive) {
  std::string wire;
  net::append_response_head(wire, r, version, keep_alive);
  if (net::response_has_body(r.status)) wire += r.body;
  return wire;
}

net::Response answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(ResponseHead, IsWhatBeastWroteForEveryAnswerShape) {
  std::vector<net::Response> answers = {
      answer(200, R"([{"output":{}}])", {{"apiVersion", "2"}}),
      answer(200, ""),
      answer(400, R"({"error":"Invalid JSON at byte 0: empty body"})", {{"apiVersion", "2"}}),
      answer(404, R"({"error":"Not found: /x"})"),
      answer(405, R"({"error":"Method GET not allowed"})", {{"Allow", "POST, OPTIONS"}}),
      answer(413, R"({"error":"Request body exceeds 10 bytes"})"),
      answer(429, "{}", {{"Retry-After", "1"}, {"Access-Control-Allow-Origin", "https://a.example"}, {"Vary", "Origin"}}),
      answer(401, "{}", {{"WWW-Authenticate", R"(Basic realm="ometria-transformer")"}}),
      answer(503, "{}", {{"Retry-After", "5"}}),
      answer(500, R"({"error":"Internal Server Error"})"),
      answer(204, "", {{"Access-Control-Allow-Origin", "*"}, {"Allow", "POST, OPTIONS"}}),
      // A later header of the same name (any case) replaces the earlier one, as Beast's set() does.
      answer(200, "x", {{"Vary", "Origin"}, {"X-A", "1"}, {"vary", "Accept"}}),
      answer(200, "x", {{"Content-Type", "text/plain"}}),
      answer(200, std::string(70000, 'a')),
  };
  net::Response metrics = answer(200, "omt_up 1\n");
  metrics.content_type = "text/plain; version=0.0.4; charset=utf-8";
  answers.push_back(metrics);
  for (const auto& r : answers) {
    for (unsigned version : {10u, 11u}) {
      for (bool keep_alive : {true, false}) {
        EXPECT_EQ(our_wire(r, version, keep_alive), beast_wire(r, version, keep_alive))
            << "status " << r.status << ", HTTP/" << version / 10 << "." << version % 10
            << (keep_alive ? ", keep-alive" : ", close");
      }
    }
  }
}

TEST(ResponseHead, AppendsToWhatIsThere) {
  std::string out = "kept";
  net::append_response_head(out, answer(200, "{}"), 11, true);
  EXPECT_EQ(out, "keptHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n");
}

}  // namespace
}  // namespace omt::test
