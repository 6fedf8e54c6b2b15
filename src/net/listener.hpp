// Internal: the server's listening socket. Accepts connections and hands each to an HttpSession; with
// config.limits.max_connections open, a new connection gets a canned 503 at once and is closed (never queued,
// never holding anything). A failed accept (out of descriptors) backs off briefly instead of spinning.
#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "omt/error.hpp"
#include "omt/net/server.hpp"

namespace omt::net {

class Listener {
 public:
  explicit Listener(Server::Impl& server);

  // Resolves host (a literal address, or a name), binds and listens; the address bound (the real port for 0).
  // Errors name the address: "cannot listen on 127.0.0.1:80: Permission denied".
  Expected<Endpoint> listen(const std::string& host, std::uint16_t port);
  void start();
  // Stops accepting. Runs on the acceptor's strand: call it through post(executor(), ...).
  void close();
  boost::asio::any_io_executor executor() { return acceptor_.get_executor(); }

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void reject(boost::asio::ip::tcp::socket& socket);

  Server::Impl& server_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::uint64_t next_session_id_ = 0;  // acceptor strand only
};

}  // namespace omt::net
