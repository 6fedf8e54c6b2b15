// The HTTPS client that pushes to Ometria: Beast over OpenSSL on the caller's io_context.
// All state (pool, waiting list, counters) lives on one strand, so send() may be called from any thread.
// Each push is a coroutine: take an idle connection or open one (resolve, connect, TLS), write, read the answer.
#include "omt/net/https_sender.hpp"

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (their class-specific operator
// new/delete recycle memory per thread); nothing in this file allocates coroutine frames by hand.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "omt/obs/delivery_events.hpp"
#include "omt/obs/log.hpp"

#ifndef OMT_VERSION
#define OMT_VERSION "0.0.0"
#endif

namespace omt::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using delivery::HttpAnswer;
using delivery::NetworkError;
using delivery::PushCompletion;
using delivery::PushOutcome;
using delivery::PushRequest;
using delivery::Sender;

std::string default_user_agent() { return std::string("ometria-transformer/") + OMT_VERSION; }

namespace {

struct Url {
  bool tls = true;
  std::string host;  // without brackets for IPv6 literals
  std::string port;
  std::string target;
  std::string host_header;
  bool host_is_ip = false;
  std::string pool_key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

// scheme://host[:port][/path][?query]; nothing else (no user info, no fragment).
bool parse_url(std::string_view url, Url& out, std::string& why) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    out.tls = false;
    rest = url.substr(7);
  } else {
    why = "the URL must start with https://";
    return false;
  }
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    why = "the URL has no host, or has user info";
    return false;
  }
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "unterminated IPv6 literal in the URL";
      return false;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        why = "bad port in the URL";
        return false;
      }
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    why = "the URL has no host";
    return false;
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos || std::stoi(std::string(port)) == 0 ||
        std::stoi(std::string(port)) > 65535) {
      why = "bad port in the URL";
      return false;
    }
  }
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  out.host = std::string(host);
  out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
  out.target = std::string(target);
  boost::system::error_code ec;
  asio::ip::make_address(out.host, ec);
  out.host_is_ip = !ec;
  const std::string bracketed = host.find(':') != std::string_view::npos ? "[" + out.host + "]" : out.host;
  out.host_header = port.empty() ? bracketed : bracketed + ":" + out.port;
  return true;
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

bool is_closed_by_peer(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

struct Connection {
  std::string pool_key;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  void close() {
    boost::system::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }
};
using ConnectionPtr = std::shared_ptr<Connection>;

// Outcome of one exchange on one connection.
struct Exchange {
  PushOutcome result;
  bool reusable = false;      // the connection may go back to the pool
  bool nothing_read = false;  // failed before a single byte of answer: safe to try once more on a new connection
};

class HttpsSenderImpl : public std::enable_shared_from_this<HttpsSenderImpl> {
 public:
  HttpsSenderImpl(asio::io_context& io, SenderOptions options)
      : strand_(asio::make_strand(io)), tls_(ssl::context::tls_client), options_(std::move(options)) {
    if (options_.user_agent.empty()) options_.user_agent = default_user_agent();
    if (options_.max_in_flight == 0) options_.max_in_flight = 1;
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_.set_verify_mode(ssl::verify_peer);
    if (options_.use_system_ca_store) tls_.set_default_verify_paths();
    if (!options_.extra_ca_file.empty()) {
      boost::system::error_code ec;
      tls_.load_verify_file(options_.extra_ca_file, ec);
      if (ec) throw std::runtime_error("cannot load CA file " + options_.extra_ca_file + ": " + ec.message());
    }
  }

  void send(PushRequest request, PushCompletion completion) {
    asio::post(strand_, [self = shared_from_this(), request = std::move(request),
                         completion = std::move(completion)]() mutable {
      self->admit(std::move(request), std::move(completion));
    });
  }

  void shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      auto waiting = std::move(self->waiting_);
      self->waiting_.clear();
      for (auto& w : waiting) w.completion(PushOutcome::failure(NetworkError::shutdown, "the sender was shut down"));
      for (auto& [key, list] : self->idle_)
        for (auto& c : list) c->close();
      self->idle_.clear();
      for (auto& c : self->active_) c->close();
    });
  }

 private:
  struct Waiting {
    PushRequest request;
    PushCompletion completion;
  };

  // On the strand: start now, wait for a slot, or refuse.
  void admit(PushRequest request, PushCompletion completion) {
    if (stopped_) {
      completion(PushOutcome::failure(NetworkError::shutdown, "the sender was shut down"));
      return;
    }
    if (in_flight_ < options_.max_in_flight) {
      start(std::move(request), std::move(completion));
    } else if (waiting_.size() < options_.max_waiting) {
      waiting_.push_back({std::move(request), std::move(completion)});
    } else {
      completion(PushOutcome::failure(NetworkError::overloaded,
                                     "more than " + std::to_string(options_.max_waiting) + " pushes waiting"));
    }
  }

  void start(PushRequest request, PushCompletion completion) {
    ++in_flight_;
    asio::co_spawn(strand_, push(std::move(request)),
                   [self = shared_from_this(), completion = std::move(completion)](std::exception_ptr error,
                                                                                   PushOutcome result) {
                     --self->in_flight_;
                     if (error) {
                       // Not expected (every step uses error codes); never let it escape into the io_context.
                       result = PushOutcome::failure(NetworkError::protocol, "internal error in the sender");
                     }
                     self->start_waiting();
                     completion(std::move(result));
                   });
  }

  void start_waiting() {
    while (!stopped_ && in_flight_ < options_.max_in_flight && !waiting_.empty()) {
      Waiting next = std::move(waiting_.front());
      waiting_.pop_front();
      start(std::move(next.request), std::move(next.completion));
    }
  }

  asio::awaitable<PushOutcome> push(PushRequest request) {
    Url url;
    std::string why;
    if (!parse_url(request.url, url, why)) co_return PushOutcome::failure(NetworkError::invalid_request, why);
    if (!url.tls && !options_.allow_plain_http)
      co_return PushOutcome::failure(NetworkError::invalid_request, "plain http:// is not allowed; use https://");

    const bool is_get = request.method == PushRequest::Method::get;
    http::request<http::string_body> message{is_get ? http::verb::get : http::verb::post, url.target, 11};
    message.set(http::field::host, url.host_header);
    if (!is_get) message.set(http::field::content_type, "application/json");
    message.set(http::field::accept, "application/json");
    message.set(http::field::user_agent, options_.user_agent);
    message.set("X-Ometria-Auth", request.api_key);
    message.keep_alive(true);
    if (!is_get) message.body() = std::move(request.body);
    message.prepare_payload();
    const std::size_t body_limit = request.max_answer_bytes != 0 ? request.max_answer_bytes : options_.max_response_body;

    ConnectionPtr connection = take_idle(url.pool_key());
    const bool reused = connection != nullptr;
    if (!connection) {
      PushOutcome failure;
      connection = co_await open(url, failure);
      if (!connection) {
        log_failure(url, request.api_key, failure);
        co_return failure;
      }
    }
    Exchange exchange = co_await exchange_on(*connection, message, body_limit);
    if (reused && exchange.nothing_read && !stopped_) {
      // The server probably closed this idle connection while we were not looking: one more try on a new one.
      // Harmless even if it did read the push: Ometria merges records by id.
      release(connection, false);
      PushOutcome failure;
      connection = co_await open(url, failure);
      if (!connection) {
        log_failure(url, request.api_key, failure);
        co_return failure;
      }
      exchange = co_await exchange_on(*connection, message, body_limit);
    }
    release(connection, exchange.reusable && !stopped_);
    if (stopped_ && !exchange.result.has_answer())
      exchange.result = PushOutcome::failure(NetworkError::shutdown, "the sender was shut down");
    if (exchange.result.has_answer()) {
      obs::emit(obs::SenderAnswered{url.host_header, request.api_key, exchange.result.answer.status});
    } else {
      log_failure(url, request.api_key, exchange.result);
    }
    co_return std::move(exchange.result);
  }

  static void log_failure(const Url& url, std::string_view api_key, const PushOutcome& result) {
    obs::emit(obs::SenderFailed{url.host_header, api_key, to_string(*result.network_error), result.error_detail});
  }

  // Resolve, connect and (for https) handshake, each under its timeout. On failure returns null and sets failure.
  asio::awaitable<ConnectionPtr> open(const Url& url, PushOutcome& failure) {
    auto connection = std::make_shared<Connection>();
    connection->pool_key = url.pool_key();
    if (url.tls) {
      connection->secure.emplace(strand_, tls_);
    } else {
      connection->plain.emplace(strand_);
    }
    active_.insert(connection);
    const auto deadline = Clock::now() + options_.connect_timeout;

    // The resolver does not obey the stream's timeout: a timer cancels it.
    auto resolver = std::make_shared<tcp::resolver>(strand_);
    auto resolve_timer = std::make_shared<asio::steady_timer>(strand_, deadline);
    resolve_timer->async_wait([resolver](boost::system::error_code ec) {
      if (!ec) resolver->cancel();
    });
    boost::system::error_code ec;
    const auto endpoints = co_await resolver->async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
    resolve_timer->cancel();
    if (ec || stopped_) {
      active_.erase(connection);
      failure = stopped_ ? PushOutcome::failure(NetworkError::shutdown, "the sender was shut down")
                : ec == asio::error::operation_aborted
                    ? PushOutcome::failure(NetworkError::timeout, "name lookup timed out after " + ms_text(options_.connect_timeout))
                    : PushOutcome::failure(NetworkError::resolve, "cannot resolve " + url.host + ": " + ec.message());
      co_return nullptr;
    }

    auto& tcp_stream = connection->tcp();
    tcp_stream.expires_at(deadline);
    co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped_) {
      active_.erase(connection);
      failure = stopped_ ? PushOutcome::failure(NetworkError::shutdown, "the sender was shut down")
                : ec == beast::error::timeout
                    ? PushOutcome::failure(NetworkError::timeout, "connect timed out after " + ms_text(options_.connect_timeout))
                    : PushOutcome::failure(NetworkError::connect, "cannot connect to " + url.host_header + ": " + ec.message());
      co_return nullptr;
    }
    tcp_stream.socket().set_option(tcp::no_delay(true), ec);

    if (url.tls) {
      SSL* native = connection->secure->native_handle();
      // SNI carries host names only (RFC 6066); OpenSSL checks the name or the IP address against the certificate.
      if (!url.host_is_ip) {
        SSL_set_tlsext_host_name(native, url.host.c_str());
        SSL_set1_host(native, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), url.host.c_str());
      }
      tcp_stream.expires_after(options_.handshake_timeout);
      co_await connection->secure->async_handshake(ssl::stream_base::client,
                                                   asio::redirect_error(asio::use_awaitable, ec));
      if (ec || stopped_) {
        active_.erase(connection);
        const long verify = SSL_get_verify_result(native);
        if (stopped_) {
          failure = PushOutcome::failure(NetworkError::shutdown, "the sender was shut down");
        } else if (ec == beast::error::timeout) {
          failure = PushOutcome::failure(NetworkError::timeout, "TLS handshake timed out after " + ms_text(options_.handshake_timeout));
        } else if (verify != X509_V_OK) {
          failure = PushOutcome::failure(NetworkError::certificate, "certificate of " + url.host_header +
                                                                       " refused: " + X509_verify_cert_error_string(verify));
        } else {
          failure = PushOutcome::failure(NetworkError::handshake, "TLS handshake with " + url.host_header + " failed: " + ec.message());
        }
        connection->close();
        co_return nullptr;
      }
    }
    tcp_stream.expires_never();
    co_return connection;
  }

  asio::awaitable<Exchange> exchange_on(Connection& connection, http::request<http::string_body>& message,
                                        std::size_t body_limit) {
    Exchange out;
    boost::system::error_code ec;
    connection.tcp().expires_after(options_.response_timeout);
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_response_header));
    parser.body_limit(body_limit);

    if (connection.secure) {
      co_await http::async_write(*connection.secure, message, asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await http::async_write(*connection.plain, message, asio::redirect_error(asio::use_awaitable, ec));
    }
    // The header first: Boost 1.74's parser loses the body_limit error for a too-long Content-Length when it
    // parses header and body in one go (eager mode, which async_read uses), so the length is checked here.
    if (!ec) {
      if (connection.secure) {
        co_await http::async_read_header(*connection.secure, connection.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await http::async_read_header(*connection.plain, connection.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    if (!ec && parser.content_length() && *parser.content_length() > body_limit) {
      ec = http::error::body_limit;
    }
    if (!ec && !parser.is_done()) {
      if (connection.secure) {
        co_await http::async_read(*connection.secure, connection.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await http::async_read(*connection.plain, connection.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    connection.tcp().expires_never();

    if (ec == http::error::body_limit && parser.is_header_done()) {
      out.result = PushOutcome::answered(answer_from(parser.get()));
      out.result.answer.body.clear();
      out.result.answer.body_truncated = true;
      co_return out;  // the rest of the body is still on the wire: the connection cannot be reused
    }
    if (ec) {
      out.nothing_read = !parser.got_some() && is_closed_by_peer(ec);
      if (ec == beast::error::timeout) {
        out.result = PushOutcome::failure(NetworkError::timeout, "no complete answer within " + ms_text(options_.response_timeout));
      } else if (is_closed_by_peer(ec)) {
        out.result = PushOutcome::failure(NetworkError::reset, "connection closed before a complete answer: " + ec.message());
      } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() || ec == http::error::header_limit) {
        out.result = PushOutcome::failure(NetworkError::protocol, "bad HTTP answer: " + ec.message());
      } else {
        out.result = PushOutcome::failure(NetworkError::reset, "connection failed: " + ec.message());
      }
      co_return out;
    }
    out.result = PushOutcome::answered(answer_from(parser.get()));
    out.reusable = parser.get().keep_alive();
    co_return out;
  }

  static HttpAnswer answer_from(const http::response<http::string_body>& response) {
    HttpAnswer answer;
    answer.status = static_cast<int>(response.result_int());
    const auto header = [&](std::string_view name) -> std::optional<std::string> {
      const auto it = response.find(beast::string_view(name.data(), name.size()));
      if (it == response.end()) return std::nullopt;
      return std::string(it->value());
    };
    answer.retry_after = header("Retry-After");
    answer.queue_size_remaining = header("X-QueueSize-Remaining");
    answer.queue_size_limit = header("X-QueueSize-Limit");
    answer.body = response.body();
    return answer;
  }

  ConnectionPtr take_idle(const std::string& key) {
    const auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    const auto now = Clock::now();
    while (!list.empty()) {
      ConnectionPtr c = std::move(list.back());  // the most recently used is the most likely still open
      list.pop_back();
      if (now - c->idle_since < options_.idle_timeout && c->tcp().socket().is_open()) {
        active_.insert(c);
        return c;
      }
      c->close();
    }
    return nullptr;
  }

  void release(const ConnectionPtr& connection, bool reusable) {
    active_.erase(connection);
    if (!reusable) {
      connection->close();
      return;
    }
    auto& list = idle_[connection->pool_key];
    if (list.size() >= options_.max_idle_per_host) {
      connection->close();
      return;
    }
    connection->idle_since = Clock::now();
    list.push_back(connection);
  }

  asio::strand<asio::io_context::executor_type> strand_;
  ssl::context tls_;
  SenderOptions options_;
  std::map<std::string, std::vector<ConnectionPtr>> idle_;
  std::set<ConnectionPtr> active_;
  std::deque<Waiting> waiting_;
  std::size_t in_flight_ = 0;
  bool stopped_ = false;
};

class HttpsSender final : public Sender {
 public:
  HttpsSender(asio::io_context& io, SenderOptions options)
      : impl_(std::make_shared<HttpsSenderImpl>(io, std::move(options))) {}
  ~HttpsSender() override { impl_->shutdown(); }
  HttpsSender(const HttpsSender&) = delete;
  HttpsSender& operator=(const HttpsSender&) = delete;

  void send(PushRequest request, PushCompletion completion) override {
    impl_->send(std::move(request), std::move(completion));
  }

 private:
  std::shared_ptr<HttpsSenderImpl> impl_;
};

}  // namespace

std::unique_ptr<Sender> make_https_sender(asio::io_context& io, SenderOptions options) {
  return std::make_unique<HttpsSender>(io, std::move(options));
}

}  // namespace omt::net
