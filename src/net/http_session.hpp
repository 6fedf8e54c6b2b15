// Internal: one client connection (Beast's http_session). Phases: idle (waiting for the first byte of a request,
// idle timeout), reading (the whole request within the read timeout, within the header and body limits),
// handling (no timeout: an asynchronous handler may take its time), writing (write timeout), then keep-alive
// or close. Everything runs on the connection's worker thread (no strand: nothing else runs its handlers); a
// handler that throws gets its request a 500. The buffers a request needs (header fields, body, answer head)
// are kept from one request to the next on the connection, so a keep-alive request allocates little.
// Timeouts: one deadline per connection (a time point set at each phase) and one timer that is re-armed only
// when a deadline comes earlier than the timer's: a keep-alive request sets three deadlines and arms no timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "body_buffers.hpp"
#include "listener.hpp"
#include "request_parser.hpp"
#include "omt/net/router.hpp"
#include "omt/net/server.hpp"

namespace omt::obs {
class HttpRoute;
}

namespace omt::net {

class HttpSession : public std::enable_shared_from_this<HttpSession>, public ResponseSink {
 public:
  // bodies: the worker's kept buffers for large bodies (the session lives on that worker).
  HttpSession(std::shared_ptr<Server::Impl> server, ServerSocket socket, std::uint64_t id, BodyBuffers& bodies);
  ~HttpSession() override;

  std::uint64_t id() const { return id_; }
  void start();
  // Posted by Server::shutdown: an idle connection closes now; a busy one closes after its answer.
  void notify_shutdown();
  void force_close();
  void deliver(Response response) override;

 private:
  enum class State { idle, reading, handling, writing, lingering, closed };
  using Clock = std::chrono::steady_clock;

  const config::ServerConfig& config() const;

  void do_idle_wait();
  void on_first_bytes(boost::beast::error_code ec, std::size_t n);
  void begin_request();
  void parse_header();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void read_more_body();
  void size_body(std::size_t size);
  std::size_t bytes_in_socket();  // received and not yet read (0 if the socket cannot say)
  void on_read_error(boost::beast::error_code ec);
  void on_request_read();
  void send_error_and_close(int status, std::string message);
  void write_response(Response r);
  void release_large_buffers();
  void on_written(boost::beast::error_code ec, bool keep_alive);
  void linger_and_close();
  void do_linger_read();
  void close_now();

  // The phase's deadline: `after` from now (never: no deadline). The timer wakes at or before it.
  void set_deadline(Clock::duration after, Clock::time_point now = Clock::now());
  void clear_deadline() { deadline_ = Clock::time_point::max(); }
  void arm_timer(Clock::time_point at);
  void on_timer(std::uint64_t generation, boost::beast::error_code ec);

  std::shared_ptr<Server::Impl> server_;
  BodyBuffers& bodies_;
  ServerSocket socket_;
  boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, ServerExecutor> timer_;
  Clock::time_point deadline_ = Clock::time_point::max();  // the current phase's; max: none
  Clock::time_point armed_ = Clock::time_point::max();     // when the timer wakes; max: not waiting
  std::uint64_t timer_generation_ = 0;  // tells a wake-up that is still current from one armed before
  bool timed_out_ = false;              // the deadline passed: the socket was closed under the pending operation
  boost::beast::flat_buffer buffer_;
  Request request_;     // the request being read and handled; its strings keep their capacity for the next one
  std::optional<RequestParser> parser_;  // fills request_ (a fresh one a request: Beast's parsers are not reusable)
  Response response_;   // the answer being written: its body is the string the handler serialised it into
  std::string head_;    // the answer's status line and header fields, written before the body in one send
  std::string body_;    // the body being read (swapped into request_ when it is whole)
  std::size_t body_expected_ = 0;  // Content-Length
  std::size_t body_received_ = 0;  // bytes of it in body_ so far
  std::size_t last_request_bytes_ = 0;  // the previous request's body: what the next read makes room for
  std::uint64_t id_;
  State state_ = State::idle;
  Clock::time_point request_start_{};
  obs::HttpRoute* route_ = nullptr;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  std::size_t lingered_ = 0;
  std::string method_name_;   // the request's method as sent
  std::string request_line_;  // "METHOD target" for the access line; empty unless access lines are on
  std::string peer_address_;  // the remote IP address (Request::peer_address); "" if the socket could not say
};

}  // namespace omt::net
