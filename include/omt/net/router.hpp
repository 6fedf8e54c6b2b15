// The HTTP route table, without Beast types: a Request in, a Response out through a Responder.
// A handler may answer at once or later from any thread (an ingest handler answers after a durable write):
// the Responder is copyable, answers exactly once, and hands the Response back to the connection's executor.
// A handler that drops every copy of its Responder without answering gets a 500 sent for it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omt::net {

enum class Method { get, head, post, put, patch, del, options, other };
std::string_view to_string(Method method);

// Body bytes reserved past the end of Request::body when Content-Length is given (simdjson's padding).
inline constexpr std::size_t body_padding = 64;

struct Request {
  Method method = Method::get;
  std::string target;  // as received: path and query
  std::string path;    // target without the query
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::vector<std::pair<std::string, std::string>> params;   // path parameters: "{name}" -> percent-decoded value
  std::string body;  // capacity() >= size() + body_padding when the request had a Content-Length
  std::string peer_address;  // the connection's remote IP address ("203.0.113.9", "2001:db8::1"); "" if unknown

  std::string_view header(std::string_view name) const;  // case-insensitive; "" if absent
  std::string_view param(std::string_view name) const;   // "" if absent
};

struct Response {
  int status = 200;
  std::string body;
  std::string_view content_type = "application/json";  // text with static storage (a literal)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  // {"error": message} with the status.
  static Response json_error(int status, std::string_view message);
};

// Where a Response goes. Implemented by the server's connection; tests may implement it too.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void deliver(Response response) = 0;  // called exactly once, from any thread
};

class Responder {
 public:
  explicit Responder(std::shared_ptr<ResponseSink> sink);
  // Answers the request; later calls are ignored. Thread-safe.
  void operator()(Response response) const;
  bool answered() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// The Request is the connection's, reused for its next request: a handler may change it (move its body out)
// but must not keep a reference to it past its return; whatever it needs later, it moves or copies.
using Handler = std::function<void(Request& request, Responder respond)>;

class Router {
 public:
  // pattern: "/health" or "/v0/destinations/{name}" ({x} matches one non-empty path segment).
  // The pattern is also the route's metrics label. A trailing slash in the request path is ignored.
  void add(Method method, std::string_view pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: no route for this method
    std::size_t route_index = 0;       // index into patterns(), valid when path_matched
    bool path_matched = false;         // some route has this path (so: 405 when handler is null)
    std::string allow;                 // "GET, POST" for a 405
  };
  // Fills request.params on a match.
  Match match(Request& request) const;

  // Distinct patterns in registration order (route labels).
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Route {
    Method method;
    std::size_t pattern_index;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<std::string> patterns_;
};

}  // namespace omt::net
