// The HTTP/1.1 server (Boost.Beast over Asio, keep-alive): accepts on one address, reads requests within the
// configured limits and timeouts, dispatches them through a Router and writes the answers. A slow or silent
// client is cut off by its timeout and never holds a thread; an exception in a handler becomes a 500 for that
// request only. Beast stays out of this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/net/router.hpp"

namespace omt::obs {
class Registry;
}

namespace omt::net {

struct Endpoint {
  std::string address;  // "127.0.0.1", "::1"
  std::uint16_t port = 0;
  std::string to_string() const;  // "127.0.0.1:9090", "[::1]:9090"
};

class Server {
 public:
  // Binds and listens (port 0 picks a free port), then starts config.threads threads (0: the number of cores).
  // Requests are counted in `metrics` (omt_http_*): by route pattern and status, with a latency histogram.
  static Expected<std::unique_ptr<Server>> start(const config::ServerConfig& config, Router router,
                                                 obs::Registry& metrics);

  // The bound address (the real port when config asked for port 0).
  Endpoint local_endpoint() const;
  std::size_t open_connections() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections, lets requests in flight finish (each
  // answered with "Connection: close") until `deadline`, then closes whatever is left and joins the threads.
  // Returns true if every connection finished in time. Safe to call more than once and from any thread except
  // the server's own.
  bool shutdown(std::chrono::milliseconds deadline);

  ~Server();  // shutdown(0) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit in force afterwards.
std::uint64_t raise_open_file_limit();

// Tells glibc's malloc to keep what a request freed for the next one: blocks under 1 MiB (a 100-event body, its
// answer) come from the heap rather than fresh mmap()s, and a heap gives memory back only past 8 MiB free. Without
// it each large body costs about 90 page faults (the pages of a buffer unmapped and mapped again) per request.
// Process-wide: for the `serve` program, called once at start-up.
void keep_freed_memory_for_reuse();

}  // namespace omt::net
