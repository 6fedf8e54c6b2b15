// One push to Ometria and what became of it, the two types every part of delivery shares: the sender fills a
// PushOutcome, the retry policy decides on it, delivery logs and counts it, the proxy answers rudder-server with
// it. An outcome is either a network failure (no answer) or Ometria's answer: status, the headers that steer
// retries, the body, and the body read as Ometria's receipt. Plain values, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "omt/ometria/push_api.hpp"

namespace omt::delivery {

struct PushRequest {
  enum class Method { post, get };
  std::string url;      // ometria::push_endpoint unless configured (http:// only with allow_plain_http)
  std::string api_key;  // sent as X-Ometria-Auth; never logged (obs::key_fingerprint)
  std::string body;     // a JSON array of records (ometria::push_body); nothing for a GET
  // A push is a POST; GET reads Ometria's lists on the same connections (ometria::errors_endpoint_for).
  Method method = Method::post;
  std::size_t max_answer_bytes = 0;  // 0: the sender's own limit (SenderOptions::max_response_body)
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
  std::string body;             // may echo user data: never log it unredacted
  bool body_truncated = false;  // the body was over SenderOptions::max_response_body (body is then empty)
  std::optional<ometria::PushReceipt> receipt;  // body read by ometria::parse_push_answer (PushOutcome::answered)
};

struct PushOutcome {
  std::optional<NetworkError> network_error;  // set: there is no answer
  std::string error_detail;                    // for logs; holds no key and no body
  HttpAnswer answer;                           // meaningful only without network_error

  bool has_answer() const { return !network_error.has_value(); }

  static PushOutcome failure(NetworkError kind, std::string detail = {});
  // An answer; its body is read as Ometria's receipt here, once, for everyone who looks at it.
  static PushOutcome answered(HttpAnswer answer);
  // An answer of only this status (and Retry-After), e.g. in tests.
  static PushOutcome http_status(int status, std::optional<std::string> retry_after = std::nullopt);
};

}  // namespace omt::delivery
