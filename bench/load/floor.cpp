// The floor for the load benchmark: a bare Beast HTTP server that reads each request whole and answers a fixed
// body of a given size, with no parsing and no mapping. One io_context per thread, each with its own acceptor
// on the same port (SO_REUSEPORT), no strands, one coroutine per connection: about as little as an HTTP/1.1
// server on Asio can do. bench/load/run.sh runs it beside the service and reports the service as a ratio of it.
//   omt_load_floor [--listen 127.0.0.1:0] [--threads N] [--answer-bytes N]
// Logs "listening on HOST:PORT" on stderr once every thread accepts (what bench/load/lib.sh waits for).
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> serve_connection(tcp::socket socket, const std::string& answer) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    co_await http::async_read(socket, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    http::response<http::string_body> response{http::status::ok, parser.get().version()};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(parser.get().keep_alive());
    response.body() = answer;
    response.prepare_payload();
    co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, const std::string& answer) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), answer), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::size_t answer_bytes = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--listen") {
      const auto colon = value.rfind(':');
      host = value.substr(0, colon);
      port = static_cast<unsigned short>(std::stoi(value.substr(colon + 1)));
    } else if (flag == "--threads") {
      threads = static_cast<unsigned>(std::stoul(value));
    } else if (flag == "--answer-bytes") {
      answer_bytes = std::stoul(value);
    } else {
      std::cerr << "omt_load_floor: unknown option " << flag << "\n";
      return 2;
    }
  }
  // A JSON-looking body of exactly answer_bytes: what the client reads is what matters, not what it says.
  std::string answer = "{\"a\":\"" + std::string(answer_bytes > 8 ? answer_bytes - 8 : 0, 'x') + "\"}";
  answer.resize(std::max<std::size_t>(answer_bytes, 2), ' ');

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  tcp::endpoint endpoint(asio::ip::make_address(host), port);
  for (unsigned t = 0; t < threads; ++t) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    auto acceptor = std::make_unique<tcp::acceptor>(*contexts.back());
    acceptor->open(endpoint.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    const int one = 1;
    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor->bind(endpoint);
    acceptor->listen(asio::socket_base::max_listen_connections);
    endpoint = acceptor->local_endpoint();  // the port 0 picked, for the others
    asio::co_spawn(*contexts.back(), accept_loop(*acceptor, answer), asio::detached);
    acceptors.push_back(std::move(acceptor));
  }
  std::cerr << "listening on " << endpoint.address().to_string() << ":" << endpoint.port() << " (" << threads
            << " threads, " << answer.size() << "-byte answers)" << std::endl;

  asio::signal_set signals(*contexts.front(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    for (auto& c : contexts) c->stop();
  });
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; ++t) workers.emplace_back([&, t] { contexts[t]->run(); });
  contexts.front()->run();
  for (auto& w : workers) w.join();
  return 0;
}
