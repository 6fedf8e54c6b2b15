#include "listener.hpp"

#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string_view>

#include <boost/asio/dispatch.hpp>

#include "http_session.hpp"
#include "server_impl.hpp"

namespace omt::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {
// Linux answers a send() with EPIPE, not SIGPIPE, only when asked; a peer that vanished must not kill us.
constexpr int send_flags = MSG_NOSIGNAL;
}  // namespace

Listener::Listener(Server::Impl& server, Worker& home)
    : server_(server), acceptor_(home.ioc.get_executor()), retry_timer_(home.ioc.get_executor()) {}

Expected<Endpoint> Listener::listen(const std::string& host, std::uint16_t port) {
  const std::string where = Endpoint{host, port}.to_string();
  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(acceptor_.get_executor());
    auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty()) return fail(errc::io, "cannot resolve " + host + ": " + ec.message());
    endpoint = results.begin()->endpoint();
  }
  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_.bind(endpoint, ec); ec) return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  }
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  return Endpoint{bound.address().to_string(), bound.port()};
}

void Listener::start() { do_accept(); }

void Listener::close() {
  beast::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void Listener::do_accept() {
  // Accepted straight onto the worker the connection will live on: its reads and writes never change thread.
  incoming_worker_ = &server_.next_worker();
  incoming_.emplace(incoming_worker_->ioc.get_executor());
  acceptor_.async_accept(*incoming_, [this, keep = server_.shared_from_this()](beast::error_code ec) { on_accept(ec); });
}

void Listener::on_accept(beast::error_code ec) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open() || server_.stopping.load()) return;
  ServerSocket socket = std::move(*incoming_);
  incoming_.reset();
  if (ec) {
    // Out of descriptors or memory: accepting again at once would spin. Back off briefly.
    server_.events.emit(obs::AcceptFailed{ec.message()});
    retry_timer_.expires_after(std::chrono::milliseconds(50));
    retry_timer_.async_wait([this, keep = server_.shared_from_this()](beast::error_code wec) {
      if (!wec) do_accept();
    });
    return;
  }
  if (server_.open.load() >= server_.config.limits.max_connections) {
    reject(socket);
    return do_accept();
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // small answers on keep-alive: no Nagle delay
  server_.open.fetch_add(1);
  auto session = std::make_shared<HttpSession>(server_.shared_from_this(), std::move(socket), next_session_id_++,
                                               incoming_worker_->bodies);
  server_.register_session(session);
  session->start();  // on the session's own worker thread
  do_accept();
}

void Listener::reject(ServerSocket& socket) {
  // Answer at once without holding anything: one non-blocking send of a canned 503 into an empty socket buffer.
  static constexpr std::string_view busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 46\r\n"
      "Connection: close\r\n\r\n{\"error\":\"Too many connections, retry later\"}\n";
  static_assert(busy.size() - busy.find("\r\n\r\n") - 4 == 46);
  server_.events.emit(obs::ConnectionRejected{});
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.send(asio::buffer(busy.data(), busy.size()), send_flags, ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace omt::net
