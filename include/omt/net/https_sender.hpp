// The real delivery::Sender: HTTPS pushes to Ometria with Beast + OpenSSL (kept out of this header), with a
// pool of keep-alive connections, a cap on pushes in flight and every step under a timeout. The interface and
// the types it speaks (PushRequest, PushOutcome) are in omt/delivery/sender.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "omt/config/config.hpp"
#include "omt/delivery/sender.hpp"

namespace boost::asio {
class io_context;
}

namespace omt::net {

// The timeouts, the in-flight cap and the CA file come from the configuration (service::sender_options); the
// rest are the client's own limits.
struct SenderOptions {
  std::chrono::milliseconds connect_timeout = config::OmetriaConfig{}.connect_timeout;      // lookup + TCP connect
  std::chrono::milliseconds handshake_timeout = config::OmetriaConfig{}.handshake_timeout;  // TLS handshake
  std::chrono::milliseconds response_timeout = config::OmetriaConfig{}.response_timeout;    // write + whole answer
  std::size_t max_in_flight = config::OmetriaConfig{}.max_in_flight;  // pushes on the wire at once; more wait in order
  std::size_t max_waiting = 4096;   // pushes waiting for a slot; beyond: NetworkError::overloaded
  std::size_t max_idle_per_host = config::OmetriaConfig{}.max_in_flight;  // keep-alive connections per scheme://host:port
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
std::unique_ptr<delivery::Sender> make_https_sender(boost::asio::io_context& io, SenderOptions options = {});

// The same client with an io_context and a thread of its own, for callers without one (the delivery proxy).
// Destroying it shuts the client down and joins its thread. Errors as make_https_sender.
std::shared_ptr<delivery::Sender> make_threaded_https_sender(SenderOptions options = {});

std::string default_user_agent();

}  // namespace omt::net
