#include "omt/net/server.hpp"

#include <sys/resource.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "omt/core/text.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string Endpoint::to_string() const {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

namespace {

Method method_from(http::verb verb) {
  switch (verb) {
    case http::verb::get: return Method::get;
    case http::verb::head: return Method::head;
    case http::verb::post: return Method::post;
    case http::verb::put: return Method::put;
    case http::verb::patch: return Method::patch;
    case http::verb::delete_: return Method::del;
    case http::verb::options: return Method::options;
    default: return Method::other;
  }
}

constexpr int max_status = 600;

// Per route label: a latency histogram and one counter per status, registered the first time that status is
// answered (a relaxed pointer load afterwards).
struct RouteMetrics {
  std::string label;
  obs::Histogram* latency = nullptr;
  std::array<std::atomic<obs::Counter*>, max_status> by_status{};
};

// The first read of a Content-Length body; the body grows from there as it fills (never past Content-Length).
constexpr std::size_t first_body_read = 64 * 1024;
// Growth factor when the body fills up: 4 keeps a 400 KB body to two reallocations (64 K -> 256 K -> all).
constexpr std::size_t body_growth = 4;

// Linux answers a send() with EPIPE, not SIGPIPE, only when asked; a peer that vanished must not kill us.
constexpr int send_flags = MSG_NOSIGNAL;

}  // namespace

class Session;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(const config::ServerConfig& cfg, Router r, obs::Registry& registry, unsigned thread_count)
      : config(cfg),
        router(std::move(r)),
        metrics(registry),
        ioc(static_cast<int>(thread_count)),
        acceptor(asio::make_strand(ioc)),
        accept_retry_timer(acceptor.get_executor()),
        work(asio::make_work_guard(ioc)) {
    for (const auto& pattern : router.patterns()) add_route_metrics(pattern);
    unmatched_route = add_route_metrics("unmatched");
    invalid_route = add_route_metrics("invalid");
    connections_open = &metrics.gauge("omt_http_connections_open", "Open client connections");
    connections_rejected = &metrics.counter("omt_http_connections_rejected_total",
                                            "Connections refused with 503 because max_connections were open");
  }

  std::size_t add_route_metrics(const std::string& label) {
    auto m = std::make_unique<RouteMetrics>();
    m->label = label;
    m->latency = &metrics.histogram("omt_http_request_duration_seconds",
                                    "Time from a request's first byte to its answer", obs::latency_buckets_seconds(),
                                    {{"route", label}});
    route_metrics.push_back(std::move(m));
    return route_metrics.size() - 1;
  }

  void count_request(std::size_t route, int status, Clock::duration elapsed) {
    RouteMetrics& m = *route_metrics[route];
    m.latency->observe(std::chrono::duration<double>(elapsed).count());
    if (status < 100 || status >= max_status) status = 500;
    obs::Counter* counter = m.by_status[status].load(std::memory_order_acquire);
    if (counter == nullptr) {
      counter = &metrics.counter("omt_http_requests_total", "HTTP requests answered, by route and status",
                                 {{"route", m.label}, {"status", std::to_string(status)}});
      m.by_status[status].store(counter, std::memory_order_release);
    }
    counter->inc();
  }

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void reject(tcp::socket& socket);
  void register_session(const std::shared_ptr<Session>& session);
  void unregister_session(std::uint64_t id);
  template <class F>
  void for_each_session(F&& f);

  const config::ServerConfig config;
  const Router router;
  obs::Registry& metrics;
  std::vector<std::unique_ptr<RouteMetrics>> route_metrics;
  std::size_t unmatched_route = 0;
  std::size_t invalid_route = 0;
  obs::Gauge* connections_open = nullptr;
  obs::Counter* connections_rejected = nullptr;

  std::atomic<bool> stopping{false};
  std::atomic<bool> threads_stopped{false};
  std::atomic<std::size_t> open{0};
  std::mutex sessions_mutex;
  std::condition_variable sessions_drained;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_session_id = 0;  // acceptor strand only

  std::mutex shutdown_mutex;  // one shutdown at a time
  bool shut_down = false;
  Endpoint endpoint;

  // Asio objects last: they are destroyed first, while the members above are still alive.
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry_timer;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::thread> threads;
};

// One client connection. Phases: idle (waiting for the first byte of a request, idle timeout), reading (the
// whole request within the read timeout), handling (no timeout: an asynchronous handler may take its time),
// writing (write timeout). Everything runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session>, public ResponseSink {
 public:
  Session(std::shared_ptr<Server::Impl> server, tcp::socket socket, std::uint64_t id)
      : server_(std::move(server)), stream_(std::move(socket)), id_(id) {
    server_->connections_open->add();
  }

  ~Session() override {
    server_->connections_open->sub();
    server_->unregister_session(id_);
  }

  std::uint64_t id() const { return id_; }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_idle_wait(); });
  }

  // Posted by Server::shutdown: an idle connection closes now; a busy one closes after its answer.
  void notify_shutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      // A request whose first bytes arrived is in flight, not idle: they may still be in the socket
      // (available() > 0) or already read with the completion queued (cancel() then changes nothing). Only a
      // connection with neither is idle: its read ends with operation_aborted and it closes.
      beast::error_code ec;
      if (self->state_ == State::idle && self->stream_.socket().available(ec) == 0) self->stream_.socket().cancel(ec);
    });
  }

  void force_close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

  void deliver(Response response) override {
    // After shutdown nothing runs the executor: a late answer is dropped (queued, it would keep this alive).
    if (server_->threads_stopped.load()) return;
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
      self->write_response(std::move(r));
    });
  }

 private:
  enum class State { idle, reading, handling, writing, lingering, closed };

  const config::ServerConfig& config() const { return server_->config; }

  void do_idle_wait() {
    if (buffer_.size() > 0) return begin_request();  // a pipelined request is already here
    if (server_->stopping.load()) {
      // Shutting down: only a request whose bytes have already arrived is still served.
      beast::error_code ec;
      if (stream_.socket().available(ec) == 0) return close_now();
    }
    state_ = State::idle;
    stream_.expires_after(config().timeouts.idle);
    // Small for a fresh connection (thousands may sit idle), whatever capacity is already there afterwards.
    const std::size_t chunk = std::clamp<std::size_t>(buffer_.capacity() - buffer_.size(), 1024, 64 * 1024);
    stream_.async_read_some(buffer_.prepare(chunk), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->on_first_bytes(ec, n);
    });
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    if (ec || state_ == State::closed) return close_now();
    buffer_.commit(n);
    begin_request();
  }

  void begin_request() {
    state_ = State::reading;
    request_start_ = Clock::now();
    route_index_ = server_->invalid_route;
    stream_.expires_after(config().timeouts.read);  // one deadline for the whole request
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(config().limits.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(config().limits.max_body_bytes);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request_read();
    auto& req = parser_->get();
    const auto length = parser_->content_length();
    const bool body_already_here = length && buffer_.size() >= *length;
    if (beast::iequals(req[http::field::expect], "100-continue") && !body_already_here) {
      // curl waits a second for this before sending a body over 1 KiB.
      static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(continue_line.data(), continue_line.size()),
                        [self = shared_from_this()](beast::error_code wec, std::size_t) {
                          if (wec) return self->close_now();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (const auto length = parser_->content_length(); length && !parser_->chunked()) {
      // Read straight into the body (no parser in the loop), which grows with the bytes that arrive, not with
      // the length announced: a client that announces 32 MiB and sends one byte costs a few KiB, not 32 MiB.
      body_expected_ = static_cast<std::size_t>(*length);
      const std::size_t from_buffer = std::min(body_expected_, buffer_.size());
      size_body(std::max(from_buffer, std::min(body_expected_, first_body_read)));
      asio::buffer_copy(asio::buffer(body_.data(), from_buffer), buffer_.data());
      buffer_.consume(from_buffer);
      body_received_ = from_buffer;
      return read_more_body();
    }
    // Chunked: the parser decodes; a larger read buffer keeps it from reading 512 bytes at a time.
    buffer_.reserve(64 * 1024);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read_error(ec);
      self->body_ = std::move(self->parser_->get().body());
      self->on_request_read();
    });
  }

  // Grows the body when it is full (at most to Content-Length), so each byte is zeroed and copied O(1) times.
  void read_more_body() {
    if (body_received_ == body_expected_) return on_request_read();
    if (body_received_ == body_.size()) size_body(std::min(body_expected_, body_growth * body_.size()));
    stream_.async_read_some(asio::buffer(body_.data() + body_received_, body_.size() - body_received_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->body_received_ += n;
                              if (ec) return self->on_read_error(ec);
                              self->read_more_body();
                            });
  }

  // simdjson's padding stays reserved past the end so that the body can be parsed in place.
  void size_body(std::size_t size) {
    body_.reserve(size + body_padding);
    body_.resize(size);
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return send_error_and_close(431, "Request header fields exceed " +
                                           std::to_string(config().limits.max_header_bytes) + " bytes");
    }
    if (ec == http::error::body_limit) {
      return send_error_and_close(413, "Request body exceeds " + std::to_string(config().limits.max_body_bytes) +
                                           " bytes");
    }
    // The peer went away, was too slow (tcp_stream closed the socket), or we are closing: nothing to answer.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe || state_ == State::closed) {
      if (ec == beast::error::timeout) spdlog::debug("connection {}: timed out", id_);
      return close_now();
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      return send_error_and_close(400, "Malformed HTTP request: " + ec.message());
    }
    return close_now();
  }

  void on_request_read() {
    state_ = State::handling;
    stream_.expires_never();
    auto& req = parser_->get();
    Request request;
    request.method = method_from(req.method());
    request.target = std::string(req.target());
    const auto query = request.target.find('?');
    request.path = request.target.substr(0, query);
    request.headers.reserve(16);
    for (const auto& field : req) request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    request.body = std::move(body_);
    body_ = std::string();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    const std::string method_name(req.method_string());
    parser_.reset();
    if (spdlog::should_log(spdlog::level::debug)) {
      log_request_ = method_name + " " + obs::redact_pii(request.target);
      if (spdlog::should_log(spdlog::level::trace) && !request.body.empty()) {
        // Compressed bytes would pass redaction untouched and could be inflated from the log: only their size
        // is logged here (the ingest routes log the decoded body, redacted).
        const std::string_view coding = request.header("Content-Encoding");
        if (coding.empty() || text::iequals(coding, "identity")) {
          spdlog::trace("connection {}: {} body: {}", id_, log_request_, obs::loggable_body(request.body));
        } else {
          spdlog::trace("connection {}: {} body: {} bytes, Content-Encoding {}", id_, log_request_, request.body.size(),
                        obs::redact_pii(coding.substr(0, 32)));
        }
      }
    }

    const Router::Match match = server_->router.match(request);
    if (!match.path_matched) {
      route_index_ = server_->unmatched_route;
      return write_response(Response::json_error(404, "Not found: " + request.path));
    }
    route_index_ = match.route_index;
    if (match.handler == nullptr) {
      Response r = Response::json_error(405, "Method " + method_name +
                                                 " not allowed for " + request.path + " (allowed: " + match.allow + ")");
      r.headers.emplace_back("Allow", match.allow);
      return write_response(std::move(r));
    }
    Responder respond(shared_from_this());
    try {
      (*match.handler)(request, respond);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} threw: {}", obs::redact_pii(request.path), obs::redact_pii(e.what()));
      respond(Response::json_error(500, "Internal Server Error"));
    } catch (...) {
      spdlog::error("handler for {} threw a non-exception", obs::redact_pii(request.path));
      respond(Response::json_error(500, "Internal Server Error"));
    }
    // The handler may already have answered (write_response ran inline): touch nothing here.
  }

  void send_error_and_close(int status, std::string message) {
    close_after_write_ = true;
    state_ = State::handling;
    write_response(Response::json_error(status, message));
  }

  void write_response(Response r) {
    if (state_ != State::handling) return;  // closed meanwhile (deadline passed)
    state_ = State::writing;
    const auto elapsed = Clock::now() - request_start_;
    server_->count_request(route_index_, r.status, elapsed);
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("connection {}: {} -> {} in {:.1f} ms", id_, log_request_.empty() ? "-" : log_request_, r.status,
                    std::chrono::duration<double, std::milli>(elapsed).count());
      if (spdlog::should_log(spdlog::level::trace) && !r.body.empty()) {
        spdlog::trace("connection {}: answer body: {}", id_, obs::loggable_body(r.body));
      }
      log_request_.clear();
    }

    const bool keep_alive = keep_alive_ && !close_after_write_ && !server_->stopping.load();
    response_.emplace(static_cast<http::status>(r.status), version_ ? version_ : 11);
    response_->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) response_->set(name, value);
    response_->keep_alive(keep_alive);
    response_->body() = std::move(r.body);
    response_->prepare_payload();
    stream_.expires_after(config().timeouts.write);
    http::async_write(stream_, *response_, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      self->on_written(ec, keep_alive);
    });
  }

  void on_written(beast::error_code ec, bool keep_alive) {
    response_.reset();
    if (ec || state_ == State::closed) return close_now();
    // Only an error answer can leave request bytes unread (a 413 body still arriving): linger for those.
    if (!keep_alive) return close_after_write_ ? linger_and_close() : close_now();
    close_after_write_ = false;
    // Thousands of idle connections must not each keep a large read buffer from one big chunked request.
    if (buffer_.size() == 0 && buffer_.capacity() > 16 * 1024) buffer_.shrink_to_fit();
    do_idle_wait();
  }

  // After an error answer the client may still be sending (a 413 body): closing with unread data would reset
  // the connection and could destroy our answer in flight. So: half-close, then read and drop what still comes,
  // for a short bounded time.
  void linger_and_close() {
    state_ = State::lingering;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(config().timeouts.read, std::chrono::seconds(2)));
    buffer_.clear();
    do_linger_read();
  }

  void do_linger_read() {
    stream_.async_read_some(buffer_.prepare(16 * 1024), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > 4 * 1024 * 1024 || self->state_ != State::lingering) return self->close_now();
      self->buffer_.clear();
      self->do_linger_read();
    });
  }

  void close_now() {
    state_ = State::closed;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  std::shared_ptr<Server::Impl> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::string body_;
  std::size_t body_expected_ = 0;  // Content-Length
  std::size_t body_received_ = 0;  // bytes of it in body_ so far
  std::uint64_t id_;
  State state_ = State::idle;
  Clock::time_point request_start_{};
  std::size_t route_index_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  std::size_t lingered_ = 0;
  std::string log_request_;  // "METHOD target" (redacted) for the debug access line; empty unless debug is on
};

void Server::Impl::register_session(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(sessions_mutex);
  sessions.emplace(session->id(), session);
}

void Server::Impl::unregister_session(std::uint64_t id) {
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(id);
  }
  open.fetch_sub(1);
  sessions_drained.notify_all();
}

template <class F>
void Server::Impl::for_each_session(F&& f) {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mutex);
    live.reserve(sessions.size());
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) f(*s);
}

void Server::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void Server::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open() || stopping.load()) return;
  if (ec) {
    // Out of descriptors or memory: accepting again at once would spin. Back off briefly.
    spdlog::warn("accept failed: {}", ec.message());
    accept_retry_timer.expires_after(std::chrono::milliseconds(50));
    accept_retry_timer.async_wait([self = shared_from_this()](beast::error_code wec) {
      if (!wec) self->do_accept();
    });
    return;
  }
  if (open.load() >= config.limits.max_connections) {
    reject(socket);
    return do_accept();
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // small answers on keep-alive: no Nagle delay
  open.fetch_add(1);
  auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), next_session_id++);
  register_session(session);
  session->start();
  do_accept();
}

void Server::Impl::reject(tcp::socket& socket) {
  // Answer at once without holding anything: one non-blocking send of a canned 503 into an empty socket buffer.
  static constexpr std::string_view busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 46\r\n"
      "Connection: close\r\n\r\n{\"error\":\"Too many connections, retry later\"}\n";
  static_assert(busy.size() - busy.find("\r\n\r\n") - 4 == 46);
  connections_rejected->inc();
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.send(asio::buffer(busy.data(), busy.size()), send_flags, ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

Expected<std::unique_ptr<Server>> Server::start(const config::ServerConfig& config, Router router,
                                                obs::Registry& metrics) {
  unsigned threads = config.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  auto impl = std::make_shared<Impl>(config, std::move(router), metrics, threads);

  const std::string where = Endpoint{config.host, config.port}.to_string();
  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(config.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, config.port);
  } else {
    tcp::resolver resolver(impl->ioc);
    auto results = resolver.resolve(config.host, std::to_string(config.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) return fail(errc::io, "cannot resolve " + config.host + ": " + ec.message());
    endpoint = results.begin()->endpoint();
  }
  auto& acceptor = impl->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor.bind(endpoint, ec); ec) return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail(errc::io, "cannot listen on " + where + ": " + ec.message());
  }
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  impl->endpoint = Endpoint{bound.address().to_string(), bound.port()};

  impl->do_accept();
  impl->threads.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    impl->threads.emplace_back([raw = impl.get()] {
      // An exception escaping a completion handler must not end the thread, or the server would slowly die.
      while (true) {
        try {
          raw->ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("uncaught exception in the server: {}", obs::redact_pii(e.what()));
        } catch (...) {
          spdlog::error("uncaught non-exception in the server");
        }
      }
    });
  }
  spdlog::info("listening on {} ({} threads)", impl->endpoint.to_string(), threads);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

Endpoint Server::local_endpoint() const { return impl_->endpoint; }

std::size_t Server::open_connections() const { return impl_->open.load(); }

bool Server::shutdown(std::chrono::milliseconds deadline) {
  Impl& impl = *impl_;
  std::lock_guard once(impl.shutdown_mutex);
  if (impl.shut_down) return true;
  impl.shut_down = true;

  impl.stopping.store(true);
  // Wait for the listening socket to be closed, so that "stopped accepting" is true once logged.
  std::promise<void> acceptor_closed;
  asio::post(impl.acceptor.get_executor(), [&impl, &acceptor_closed] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    impl.accept_retry_timer.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  spdlog::info("stopped accepting; waiting up to {} ms for {} open connection(s)", deadline.count(), impl.open.load());
  impl.for_each_session([](Session& s) { s.notify_shutdown(); });

  bool drained = false;
  {
    std::unique_lock lock(impl.sessions_mutex);
    drained = impl.sessions_drained.wait_for(lock, deadline, [&impl] { return impl.open.load() == 0; });
  }
  if (!drained) {
    spdlog::warn("shutdown deadline passed with {} connection(s) still busy; closing them", impl.open.load());
    impl.for_each_session([](Session& s) { s.force_close(); });
  }
  // With the acceptor and every socket closed, the threads run out of work and return.
  impl.work.reset();
  for (auto& t : impl.threads) {
    if (t.joinable()) t.join();
  }
  impl.threads_stopped.store(true);
  // Answers delivered while the threads were stopping: run them now (they find their connection closed).
  impl.ioc.restart();
  impl.ioc.poll();
  spdlog::info("server stopped");
  return drained;
}

}  // namespace omt::net
