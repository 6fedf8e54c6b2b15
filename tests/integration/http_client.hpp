// A small synchronous HTTP/1.1 client for integration tests (Beast underneath, kept out of this header).
// Every call is bounded by the client's timeout: a server that hangs makes the call throw, never the test hang.
// HttpClient keeps its connection alive between requests; RawConnection sends arbitrary bytes (malformed,
// truncated or slow requests) and watches what comes back.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omt::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  std::string body;
  Headers headers;
  bool keep_alive = true;  // the server did not say "Connection: close"

  std::string header(std::string_view name) const;  // case-insensitive; "" if absent
};

// Thrown on a connect, write or read failure, or when the timeout passes.
struct HttpClientError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class HttpClient {
 public:
  explicit HttpClient(std::string host, std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Connects on first use and after the server closed the connection; otherwise reuses it.
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       const Headers& headers = {});
  HttpResponse get(std::string_view target) { return request("GET", target); }
  HttpResponse post(std::string_view target, std::string_view body, const Headers& headers = {}) {
    return request("POST", target, body, headers);
  }

  bool connected() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class RawConnection {
 public:
  RawConnection(const std::string& host, std::uint16_t port,
                std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends every byte; false if the connection failed (closed or reset by the server).
  bool send(std::string_view bytes);

  struct ReadResult {
    std::string data;     // everything received
    bool closed = false;  // the peer closed or reset the connection
  };
  // Reads until the peer closes the connection or `timeout` passes.
  ReadResult read_until_closed(std::chrono::milliseconds timeout);
  // Reads until one whole HTTP response (header + Content-Length body) is in, the peer closes, or `timeout`.
  ReadResult read_response(std::chrono::milliseconds timeout);

  void shutdown_send();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "Basic base64(user:)": HTTP Basic with an empty password, as the RudderStack / Segment SDKs send a write key.
std::string basic_auth(std::string_view user);

// Parses the first HTTP response in `raw` (status 0 if there is none).
HttpResponse parse_response(std::string_view raw);

// The value of an unlabelled series in a /metrics answer (Prometheus text); -1 if it is not there.
long long metric(const std::string& metrics, const std::string& name);

}  // namespace omt::test
