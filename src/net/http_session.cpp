#include "http_session.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "omt/net/response_head.hpp"
#include "omt/obs/http_events.hpp"
#include "server_impl.hpp"

namespace omt::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The first read of a Content-Length body; the body grows from there as it fills (never past Content-Length).
constexpr std::size_t first_body_read = 64 * 1024;
// Growth factor when the body fills up: 4 keeps a 400 KB body to two reallocations (64 K -> 256 K -> all).
constexpr std::size_t body_growth = 4;
// A connection keeps buffers up to this size for its next request; larger ones go once the answer is written,
// so that thousands of idle keep-alive connections hold little.
constexpr std::size_t kept_buffer_bytes = 16 * 1024;

// s.clear(), or its memory handed back when it is larger than a connection keeps.
void clear_or_release(std::string& s) {
  if (s.capacity() > kept_buffer_bytes) std::string().swap(s);
  else s.clear();
}

}  // namespace

HttpSession::HttpSession(std::shared_ptr<Server::Impl> server, ServerSocket socket, std::uint64_t id,
                         BodyBuffers& bodies)
    : server_(std::move(server)), bodies_(bodies), socket_(std::move(socket)), timer_(socket_.get_executor()), id_(id) {
  boost::system::error_code peer_error;  // once a connection: every request on it comes from the same peer
  const auto peer = socket_.remote_endpoint(peer_error);
  if (!peer_error) peer_address_ = peer.address().to_string();
}

HttpSession::~HttpSession() {
  server_->unregister_session(id_);  // counted closed there, under the lock shutdown releases the metrics with
}

const config::ServerConfig& HttpSession::config() const { return server_->config; }

void HttpSession::start() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->do_idle_wait(); });
}

void HttpSession::notify_shutdown() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    // A request whose first bytes arrived is in flight, not idle: they may still be in the socket
    // (available() > 0) or already read with the completion queued (cancel() then changes nothing). Only a
    // connection with neither is idle: its read ends with operation_aborted and it closes.
    beast::error_code ec;
    if (self->state_ == State::idle && self->socket_.available(ec) == 0) self->socket_.cancel(ec);
  });
}

void HttpSession::force_close() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close_now(); });
}

void HttpSession::deliver(Response response) {
  // After shutdown nothing runs the executor: a late answer is dropped (queued, it would keep this alive).
  if (server_->threads_stopped.load()) return;
  // A handler answering at once is on this connection's thread: written now, no hand-off.
  if (socket_.get_executor().running_in_this_thread()) return write_response(std::move(response));
  asio::post(socket_.get_executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
    self->write_response(std::move(r));
  });
}

void HttpSession::do_idle_wait() {
  if (buffer_.size() > 0) return begin_request();  // a pipelined request is already here
  if (server_->stopping.load()) {
    // Shutting down: only a request whose bytes have already arrived is still served.
    beast::error_code ec;
    if (socket_.available(ec) == 0) return close_now();
  }
  state_ = State::idle;
  set_deadline(config().timeouts.idle);
  // Small for a fresh connection (thousands may sit idle); on keep-alive, room for a request like the last one,
  // head and body, so that it usually arrives in one read (within what a connection keeps between requests).
  const std::size_t expected = std::min(last_request_bytes_ + 1024, kept_buffer_bytes);
  const std::size_t chunk =
      std::clamp<std::size_t>(std::max(buffer_.capacity() - buffer_.size(), expected), 1024, 64 * 1024);
  socket_.async_read_some(buffer_.prepare(chunk), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->on_first_bytes(ec, n);
  });
}

void HttpSession::on_first_bytes(beast::error_code ec, std::size_t n) {
  if (ec || state_ == State::closed) return close_now();
  buffer_.commit(n);
  begin_request();
}

void HttpSession::begin_request() {
  state_ = State::reading;
  request_start_ = Clock::now();
  route_ = &server_->events.invalid_route();
  set_deadline(config().timeouts.read, request_start_);  // one deadline for the whole request
  parser_.emplace(request_, method_name_, body_);
  parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(config().limits.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(config().limits.max_body_bytes);
  parse_header();
}

// The header is parsed from the bytes already read, in place; the socket is read only for what is missing. (Beast's
// async_read_header would post its completion even with the whole header in hand: a composed operation per
// request.) The parser enforces the header limit on the bytes it is given.
void HttpSession::parse_header() {
  beast::error_code ec;
  if (buffer_.size() > 0) {
    buffer_.consume(parser_->put(buffer_.data(), ec));
    if (!ec && parser_->is_header_done()) return on_header({});
    if (ec && ec != http::error::need_more) return on_read_error(ec);
  }
  const std::size_t chunk = std::clamp<std::size_t>(buffer_.capacity() - buffer_.size(), 1024, 64 * 1024);
  socket_.async_read_some(buffer_.prepare(chunk), [self = shared_from_this()](beast::error_code rec, std::size_t n) {
    if (rec) {
      // As Beast's reads say it: the peer closed before a request began, or in the middle of one.
      if (rec == asio::error::eof) rec = self->parser_->got_some() ? http::error::partial_message : http::error::end_of_stream;
      return self->on_read_error(rec);
    }
    self->buffer_.commit(n);
    self->parse_header();
  });
}

void HttpSession::on_header(beast::error_code ec) {
  if (ec) return on_read_error(ec);
  if (parser_->is_done()) return on_request_read();
  const auto length = parser_->content_length();
  const bool body_already_here = length && buffer_.size() >= *length;
  if (parser_->expects_continue() && !body_already_here) {
    // curl waits a second for this before sending a body over 1 KiB.
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(continue_line.data(), continue_line.size()),
                      [self = shared_from_this()](beast::error_code wec, std::size_t) {
                        if (wec) return self->close_now();
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void HttpSession::read_body() {
  if (const auto length = parser_->content_length(); length && !parser_->chunked()) {
    // Read straight into the body (no parser in the loop), which grows with the bytes that arrive, not with
    // the length announced: a client that announces 32 MiB and sends one byte costs a few KiB, not 32 MiB.
    // Room for every byte already here (read buffer and socket): a body that has arrived is read in one go.
    body_expected_ = static_cast<std::size_t>(*length);
    body_received_ = 0;
    // A large body goes into a buffer the worker kept from an earlier one: allocated, zeroed and grown already.
    // (A kept buffer is memory already held: a client that announces more than it sends costs nothing more.)
    if (body_expected_ > first_body_read && body_.capacity() < body_expected_ + body_padding)
      if (std::string kept = bodies_.take(body_expected_ + body_padding); kept.capacity() > body_.capacity())
        body_.swap(kept);
    const std::size_t from_buffer = std::min(body_expected_, buffer_.size());
    const std::size_t waiting = from_buffer < body_expected_ ? bytes_in_socket() : 0;
    size_body(std::min(body_expected_, std::max(from_buffer + waiting, first_body_read)));
    asio::buffer_copy(asio::buffer(body_.data(), from_buffer), buffer_.data());
    buffer_.consume(from_buffer);
    body_received_ = from_buffer;
    return read_more_body();
  }
  // Chunked: the parser decodes into body_; a larger read buffer keeps it from reading 512 bytes at a time.
  buffer_.reserve(64 * 1024);
  http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->on_read_error(ec);
    self->on_request_read();
  });
}

// Grows the body when it is full (at most to Content-Length, and at least to what is waiting in the socket, so
// that a body that has arrived is read in one go), so each byte is zeroed and copied O(1) times.
void HttpSession::read_more_body() {
  if (body_received_ == body_expected_) return on_request_read();
  if (body_received_ == body_.size()) {
    size_body(std::min(body_expected_, std::max(body_growth * body_.size(), body_received_ + bytes_in_socket())));
  }
  socket_.async_read_some(asio::buffer(body_.data() + body_received_, body_.size() - body_received_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->body_received_ += n;
                            if (ec) return self->on_read_error(ec);
                            self->read_more_body();
                          });
}

std::size_t HttpSession::bytes_in_socket() {
  beast::error_code ec;
  const std::size_t n = socket_.available(ec);
  return ec ? 0 : n;
}

// simdjson's padding stays reserved past the end so that the body can be parsed in place.
// The larger body is a buffer of exactly that size: std::string::reserve rounds a growth of less than twice up to
// twice (libstdc++), so the last step to Content-Length (256 KiB -> 370 KiB) held 512 KiB a connection.
// Only the bytes received are copied, and resize zeroes only past the current size: a kept buffer (BodyBuffers)
// still has its last body's size, and is overwritten rather than cleared.
void HttpSession::size_body(std::size_t size) {
  if (size + body_padding > body_.capacity()) {
    std::string grown;
    grown.reserve(size + body_padding);
    grown.append(body_.data(), std::min(body_received_, body_.size()));
    body_.swap(grown);
  }
  body_.resize(size);
}

void HttpSession::on_read_error(beast::error_code ec) {
  if (ec == http::error::header_limit) {
    return send_error_and_close(431, "Request header fields exceed " +
                                         std::to_string(config().limits.max_header_bytes) + " bytes");
  }
  if (ec == http::error::body_limit) {
    return send_error_and_close(413, "Request body exceeds " + std::to_string(config().limits.max_body_bytes) +
                                         " bytes");
  }
  // The peer went away, was too slow (the deadline closed the socket), or we are closing: nothing to answer.
  if (timed_out_) {
    server_->events.emit(obs::ConnectionTimedOut{id_});
    return close_now();
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
      ec == asio::error::operation_aborted || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      state_ == State::closed) {
    return close_now();
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    return send_error_and_close(400, "Malformed HTTP request: " + ec.message());
  }
  return close_now();
}

void HttpSession::on_request_read() {
  state_ = State::handling;
  clear_deadline();
  // The parser filled the method, target, path and header fields in place (their strings keep their capacity
  // from the connection's previous request).
  Request& request = request_;
  request.params.clear();
  request.body.swap(body_);  // body_ now holds the previous request's buffer, for the next body
  last_request_bytes_ = request.body.size();
  body_.clear();
  if (request.peer_address != peer_address_) request.peer_address = peer_address_;
  keep_alive_ = parser_->keep_alive();
  version_ = parser_->version();
  const std::string_view method_name = method_name_;
  if (obs::HttpEvents::access_lines_on()) {
    request_line_.assign(method_name);
    request_line_ += ' ';
    request_line_ += request.target;
    server_->events.emit(obs::RequestBodyRead{id_, request_line_, request.body, request.header("Content-Encoding")});
  }

  const Router::Match match = server_->router.match(request);
  if (!match.path_matched) {
    route_ = &server_->events.unmatched_route();
    parser_.reset();
    return write_response(Response::json_error(404, "Not found: " + request.path));
  }
  route_ = &server_->events.route(match.route_index);
  if (match.handler == nullptr) {
    Response r = Response::json_error(405, "Method " + std::string(method_name) + " not allowed for " +
                                               request.path + " (allowed: " + match.allow + ")");
    r.headers.emplace_back("Allow", match.allow);
    parser_.reset();
    return write_response(std::move(r));
  }
  parser_.reset();
  Responder respond(shared_from_this());
  try {
    (*match.handler)(request, respond);
  } catch (const std::exception& e) {
    server_->events.emit(obs::HandlerThrew{request.path, e.what()});
    respond(Response::json_error(500, "Internal Server Error"));
  } catch (...) {
    server_->events.emit(obs::HandlerThrew{request.path, nullptr});
    respond(Response::json_error(500, "Internal Server Error"));
  }
  // The handler may already have answered (write_response ran inline): touch nothing here.
}

void HttpSession::send_error_and_close(int status, std::string message) {
  close_after_write_ = true;
  state_ = State::handling;
  write_response(Response::json_error(status, message));
}

void HttpSession::write_response(Response r) {
  if (state_ != State::handling) return;  // closed meanwhile (deadline passed)
  state_ = State::writing;
  response_ = std::move(r);
  // Answered: the request's body is not needed while the answer is written (at -c32, 32 bodies fewer at a peak).
  // A large one is kept by the worker for its next large body.
  if (request_.body.capacity() > kept_buffer_bytes) bodies_.give_back(request_.body);
  else request_.body.clear();
  server_->events.emit(obs::RequestServed{route_, id_, request_line_, response_.status, Clock::now() - request_start_,
                                          response_.body});
  request_line_.clear();

  const bool keep_alive = keep_alive_ && !close_after_write_ && !server_->stopping.load();
  head_.clear();
  append_response_head(head_, response_, version_ ? version_ : 11, keep_alive);
  const std::size_t body_bytes = response_has_body(response_.status) ? response_.body.size() : 0;
  const std::array<asio::const_buffer, 2> wire{asio::buffer(head_), asio::buffer(response_.body.data(), body_bytes)};
  set_deadline(config().timeouts.write);
  asio::async_write(socket_, wire, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
    self->on_written(ec, keep_alive);
  });
}

void HttpSession::release_large_buffers() {
  response_.headers.clear();
  clear_or_release(response_.body);
  clear_or_release(body_);  // request_.body went when the answer was given (write_response)
  // Thousands of idle connections must not each keep a large read buffer from one big chunked request.
  if (buffer_.size() == 0 && buffer_.capacity() > kept_buffer_bytes) buffer_.shrink_to_fit();
}

void HttpSession::on_written(beast::error_code ec, bool keep_alive) {
  release_large_buffers();
  if (ec || state_ == State::closed) return close_now();
  // Only an error answer can leave request bytes unread (a 413 body still arriving): linger for those.
  if (!keep_alive) return close_after_write_ ? linger_and_close() : close_now();
  close_after_write_ = false;
  do_idle_wait();
}

// After an error answer the client may still be sending (a 413 body): closing with unread data would reset
// the connection and could destroy our answer in flight. So: half-close, then read and drop what still comes,
// for a short bounded time.
void HttpSession::linger_and_close() {
  state_ = State::lingering;
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  set_deadline(std::min<std::chrono::milliseconds>(config().timeouts.read, std::chrono::seconds(2)));
  buffer_.clear();
  do_linger_read();
}

void HttpSession::do_linger_read() {
  socket_.async_read_some(buffer_.prepare(16 * 1024), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->lingered_ += n;
    if (ec || self->lingered_ > 4 * 1024 * 1024 || self->state_ != State::lingering) return self->close_now();
    self->buffer_.clear();
    self->do_linger_read();
  });
}

void HttpSession::close_now() {
  state_ = State::closed;
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // A waiting timer holds this session alive: cancelled, it lets go now, not at the deadline.
  clear_deadline();
  armed_ = Clock::time_point::max();
  ++timer_generation_;
  timer_.cancel();
}

void HttpSession::set_deadline(Clock::duration after, Clock::time_point now) {
  deadline_ = now + after;
  // The timer wakes first and re-arms itself for the rest: a later deadline costs nothing.
  if (deadline_ < armed_) arm_timer(deadline_);
}

void HttpSession::arm_timer(Clock::time_point at) {
  armed_ = at;
  const std::uint64_t generation = ++timer_generation_;
  timer_.expires_at(at);  // a wait already pending ends with operation_aborted; its generation is stale anyway
  timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) { self->on_timer(generation, ec); });
}

void HttpSession::on_timer(std::uint64_t generation, beast::error_code ec) {
  if (ec || generation != timer_generation_ || state_ == State::closed) return;
  armed_ = Clock::time_point::max();
  if (deadline_ == Clock::time_point::max()) return;  // handling: no deadline; the next phase arms again
  if (Clock::now() < deadline_) return arm_timer(deadline_);
  // Past the deadline: closing the socket ends the pending read or write (operation_aborted).
  timed_out_ = true;
  close_now();
}

}  // namespace omt::net
