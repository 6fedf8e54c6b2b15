// The HTTP server's outcomes: a request served (the access line at debug, the answer body at trace, and
// omt_http_requests_total{route,status} / omt_http_request_duration_seconds{route}), a request body read (trace),
// a connection opened, closed, timed out or rejected (omt_http_connections_open, _rejected_total), a handler
// that threw, a failed accept, and the server's life (listening, stopping, stopped). The lines and metric names
// are those users have always seen; request targets, bodies and exception texts are redacted here, once.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace omt::obs {

class Registry;
class Counter;
class Gauge;
class Histogram;

// One route label's series: a latency histogram and a counter per status, registered on first use.
class HttpRoute {
 public:
  HttpRoute(Registry& registry, std::string label);
  const std::string& label() const { return label_; }
  void count(int status, std::chrono::steady_clock::duration elapsed);

 private:
  static constexpr int max_status = 600;
  Registry& registry_;
  std::string label_;
  Histogram* latency_ = nullptr;
  std::array<std::atomic<Counter*>, max_status> by_status_{};
};

// The server started listening: "listening on 127.0.0.1:9090 (2 threads)" (info).
struct ServerListening {
  std::string_view endpoint;
  unsigned threads = 0;
};
// Accepting failed (out of descriptors or memory); the listener backs off briefly (warn).
struct AcceptFailed {
  std::string_view error;
};
// A connection refused with a canned 503 because max_connections were open (counter only).
struct ConnectionRejected {};
struct ConnectionOpened {};  // the open-connections gauge
struct ConnectionClosed {};
// A connection cut off by its idle, read or write timeout (debug).
struct ConnectionTimedOut {
  std::uint64_t connection = 0;
};
// A request read, for the trace line of its body. request_line: "METHOD target" as received.
// content_encoding: the header's value; a coded body is told by its size only (it would pass redaction as it is).
struct RequestBodyRead {
  std::uint64_t connection = 0;
  std::string_view request_line;
  std::string_view body;
  std::string_view content_encoding;
};
// A request answered: counted on its route; the access line (debug) and the answer body (trace).
// request_line: "METHOD target" as received, empty when the request was never read whole (a 413, 431, 400).
struct RequestServed {
  HttpRoute* route = nullptr;
  std::uint64_t connection = 0;
  std::string_view request_line;
  int status = 0;
  std::chrono::steady_clock::duration elapsed{};
  std::string_view answer_body;
};
// A route's handler threw; the request is answered 500 (error). what: nullptr for a non-exception.
struct HandlerThrew {
  std::string_view path;
  const char* what = nullptr;
};
// An exception escaped a completion handler; the server thread carries on (error). what: nullptr as above.
struct ServerThreadThrew {
  const char* what = nullptr;
};
// Shutdown: accepting has stopped; open connections get until the deadline (info).
struct StoppedAccepting {
  std::chrono::milliseconds deadline{0};
  std::size_t open_connections = 0;
};
// Shutdown: the deadline passed with connections still busy; they are closed now (warn).
struct ShutdownDeadlinePassed {
  std::size_t open_connections = 0;
};
struct ServerStopped {};  // info

class HttpEvents {
 public:
  // route_labels: the router's patterns (Router::patterns(), in order); "unmatched" and "invalid" are added.
  HttpEvents(Registry& registry, const std::vector<std::string>& route_labels);
  HttpEvents(const HttpEvents&) = delete;
  HttpEvents& operator=(const HttpEvents&) = delete;
  ~HttpEvents();

  HttpRoute& route(std::size_t index) { return *routes_.at(index); }  // index into route_labels
  HttpRoute& unmatched_route() { return *unmatched_; }                // no route has the path
  HttpRoute& invalid_route() { return *invalid_; }                    // no request was read (413, 431, 400)

  // True when access lines are written (debug): only then is a request line worth keeping for RequestServed.
  static bool access_lines_on();

  void emit(const ServerListening& event);
  void emit(const AcceptFailed& event);
  void emit(const ConnectionRejected& event);
  void emit(const ConnectionOpened& event);
  void emit(const ConnectionClosed& event);
  void emit(const ConnectionTimedOut& event);
  void emit(const RequestBodyRead& event);
  void emit(const RequestServed& event);
  void emit(const HandlerThrew& event);
  void emit(const ServerThreadThrew& event);
  void emit(const StoppedAccepting& event);
  void emit(const ShutdownDeadlinePassed& event);
  void emit(const ServerStopped& event);

 private:
  std::vector<std::unique_ptr<HttpRoute>> routes_;
  std::unique_ptr<HttpRoute> unmatched_;
  std::unique_ptr<HttpRoute> invalid_;
  Gauge* connections_open_ = nullptr;
  Counter* connections_rejected_ = nullptr;
};

}  // namespace omt::obs
