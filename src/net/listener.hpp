// Internal: the server's listening socket. Accepts connections and hands each to an HttpSession on the next
// worker thread; with config.limits.max_connections open, a new connection gets a canned 503 at once and is
// closed (never queued, never holding anything). A failed accept (out of descriptors) backs off briefly instead
// of spinning. The acceptor lives on the first worker's io_context, so its handlers never run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include "omt/error.hpp"
#include "omt/net/server.hpp"

namespace omt::net {

// The executor of every server object: a worker's io_context, named concretely (not any_io_executor), so that
// no handler goes through a type-erased executor.
using ServerExecutor = boost::asio::io_context::executor_type;
using ServerSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, ServerExecutor>;

struct Worker;

class Listener {
 public:
  Listener(Server::Impl& server, Worker& home);

  // Resolves host (a literal address, or a name), binds and listens; the address bound (the real port for 0).
  // Errors name the address: "cannot listen on 127.0.0.1:80: Permission denied".
  Expected<Endpoint> listen(const std::string& host, std::uint16_t port);
  void start();
  // Stops accepting. Runs on the acceptor's thread: call it through post(executor(), ...).
  void close();
  ServerExecutor executor() { return acceptor_.get_executor(); }

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec);
  void reject(ServerSocket& socket);

  Server::Impl& server_;
  boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, ServerExecutor> acceptor_;
  boost::asio::basic_waitable_timer<std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
                                    ServerExecutor>
      retry_timer_;
  std::optional<ServerSocket> incoming_;  // the socket being accepted, on the worker it will live on
  Worker* incoming_worker_ = nullptr;       // that worker
  std::uint64_t next_session_id_ = 0;     // acceptor thread only
};

}  // namespace omt::net
