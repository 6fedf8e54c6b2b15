// The outbound side of delivery: one push (a JSON array of records) to Ometria, answered asynchronously.
// Sender is the seam delivery code depends on; make_https_sender gives the real client (Beast + OpenSSL, kept
// out of this header) and omt/net/fake_sender.hpp a scripted one for unit tests. A completion is called exactly
// once per send, never from inside send() for the real client, and carries either a network failure or the answer.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace omt::config {
struct OmetriaConfig;
}

namespace omt::net {

struct PushRequest {
  std::string url;      // https://api.ometria.com/v2/push (http:// only with SenderOptions::allow_plain_http)
  std::string api_key;  // sent as X-Ometria-Auth; never logged (obs::key_fingerprint)
  std::string body;     // a JSON array of records
};

// Why no HTTP answer was received. Every kind but invalid_request, overloaded and shutdown is worth a retry.
enum class NetworkError {
  invalid_request,  // bad URL, or http:// without allow_plain_http; nothing was sent
  resolve,          // host name lookup failed
  connect,          // TCP connect failed (refused, unreachable)
  handshake,        // TLS handshake failed for a reason other than the certificate
  certificate,      // the server's certificate was refused (unknown CA, expired, host name mismatch)
  timeout,          // connect, handshake or response timeout (the detail says which)
  reset,            // the connection was closed or reset before a complete answer
  protocol,         // the answer was not valid HTTP/1.1 or its header was over the limit
  overloaded,       // too many sends waiting for a free slot (SenderOptions::max_waiting)
  shutdown,         // the sender was destroyed before the push completed
};

constexpr std::string_view to_string(NetworkError kind) {
  switch (kind) {
    case NetworkError::invalid_request: return "invalid_request";
    case NetworkError::resolve: return "resolve";
    case NetworkError::connect: return "connect";
    case NetworkError::handshake: return "handshake";
    case NetworkError::certificate: return "certificate";
    case NetworkError::timeout: return "timeout";
    case NetworkError::reset: return "reset";
    case NetworkError::protocol: return "protocol";
    case NetworkError::overloaded: return "overloaded";
    case NetworkError::shutdown: return "shutdown";
  }
  return "unknown";
}

struct HttpAnswer {
  int status = 0;
  std::optional<std::string> retry_after;            // Retry-After as sent: seconds or an HTTP date
  std::optional<std::string> queue_size_remaining;   // X-QueueSize-Remaining as sent
  std::optional<std::string> queue_size_limit;       // X-QueueSize-Limit as sent
  std::string body;            // may echo user data: never log it unredacted
  bool body_truncated = false;  // the body was over SenderOptions::max_response_body (body is then empty)
};

struct PushResult {
  std::optional<NetworkError> network_error;  // set: there is no answer
  std::string error_detail;                    // for logs; holds no key and no body
  HttpAnswer answer;                           // meaningful only without network_error

  bool has_answer() const { return !network_error.has_value(); }

  static PushResult failure(NetworkError kind, std::string detail = {}) {
    PushResult r;
    r.network_error = kind;
    r.error_detail = std::move(detail);
    return r;
  }
  static PushResult answered(HttpAnswer answer) {
    PushResult r;
    r.answer = std::move(answer);
    return r;
  }
};

using PushCompletion = std::function<void(PushResult)>;

class Sender {
 public:
  virtual ~Sender() = default;
  // Starts one push; completion is called once, on a thread running the sender's io_context.
  virtual void send(PushRequest request, PushCompletion completion) = 0;
};

struct SenderOptions {
  std::chrono::milliseconds connect_timeout{5000};    // name lookup + TCP connect
  std::chrono::milliseconds handshake_timeout{5000};  // TLS handshake
  std::chrono::milliseconds response_timeout{30000};  // writing the request and reading the whole answer
  std::size_t max_in_flight = 16;   // pushes on the wire at once; more wait in order
  std::size_t max_waiting = 4096;   // pushes waiting for a slot; beyond: NetworkError::overloaded
  std::size_t max_idle_per_host = 16;  // keep-alive connections kept per scheme://host:port
  std::chrono::milliseconds idle_timeout{30000};  // an idle connection older than this is not reused
  std::size_t max_response_body = 64 * 1024;
  std::size_t max_response_header = 16 * 1024;
  bool allow_plain_http = false;  // tests only: production pushes are always https
  bool use_system_ca_store = true;
  std::string extra_ca_file;  // PEM file of additionally trusted CAs (tests)
  std::string user_agent;     // empty: "ometria-transformer/<version>"
};

// The real client. Throws std::runtime_error at construction if extra_ca_file cannot be loaded.
// Destroying it closes idle connections, fails waiting pushes with `shutdown` and aborts those in flight;
// their completions still run on the io_context.
std::unique_ptr<Sender> make_https_sender(boost::asio::io_context& io, SenderOptions options = {});

// The same client with an io_context and a thread of its own, for callers without one (the delivery proxy).
// Destroying it shuts the client down and joins its thread. Errors as make_https_sender.
std::shared_ptr<Sender> make_threaded_https_sender(SenderOptions options = {});

// SenderOptions from the configuration's ometria section (timeouts, in-flight cap, CA file, plain http).
SenderOptions sender_options_from(const config::OmetriaConfig& ometria);

std::string default_user_agent();

}  // namespace omt::net
