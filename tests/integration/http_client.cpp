#include "http_client.hpp"

#include <array>
#include <cctype>
#include <functional>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace omt::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Runs the io_context until `done` or the timeout; on timeout closes the socket (which completes the pending
// operation with an error) and drains it. Returns false on timeout.
bool run_bounded(asio::io_context& ioc, tcp::socket& socket, const bool& done, std::chrono::milliseconds timeout) {
  ioc.restart();
  ioc.run_for(timeout);
  if (done) return true;
  beast::error_code ignored;
  socket.close(ignored);
  ioc.restart();
  ioc.run();
  return false;
}

void connect(asio::io_context& ioc, tcp::socket& socket, const std::string& host, std::uint16_t port,
             std::chrono::milliseconds timeout) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw HttpClientError("bad address " + host);
  bool done = false;
  beast::error_code result;
  socket.async_connect(tcp::endpoint(address, port), [&](beast::error_code e) {
    result = e;
    done = true;
  });
  if (!run_bounded(ioc, socket, done, timeout)) throw HttpClientError("connect timed out");
  if (result) throw HttpClientError("connect failed: " + result.message());
  socket.set_option(tcp::no_delay(true), ec);
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

long long metric(const std::string& metrics, const std::string& name) {
  const std::string series = "\n" + name + " ";
  const auto at = metrics.find(series);
  return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + series.size()));
}

HttpResponse parse_response(std::string_view raw) {
  HttpResponse out;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(raw.data(), raw.size()), ec);
  if (ec && ec != http::error::need_more) return out;
  if (!parser.is_header_done()) return out;
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

// ---- HttpClient ----

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  bool open = false;
};

HttpClient::HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

bool HttpClient::connected() const { return impl_->open; }

void HttpClient::close() {
  beast::error_code ignored;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
  impl_->buffer.clear();
  impl_->open = false;
}

HttpResponse HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                 const Headers& headers) {
  Impl& d = *impl_;
  if (!d.open) {
    d.socket = tcp::socket(d.ioc);
    connect(d.ioc, d.socket, d.host, d.port, d.timeout);
    d.buffer.clear();
    d.open = true;
  }
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, d.host + ":" + std::to_string(d.port));
  bool has_content_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    has_content_type = has_content_type || iequals(k, "content-type");
  }
  if (!body.empty() && !has_content_type) req.set(http::field::content_type, "application/json");
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();

  bool done = false;
  beast::error_code result;
  http::async_write(d.socket, req, [&](beast::error_code e, std::size_t) {
    result = e;
    done = true;
  });
  if (!run_bounded(d.ioc, d.socket, done, d.timeout)) {
    d.open = false;
    throw HttpClientError("write timed out");
  }
  if (result) {
    close();
    throw HttpClientError("write failed: " + result.message());
  }

  // Interim answers (100 Continue) are skipped: the final answer follows on the same connection.
  std::optional<http::response_parser<http::string_body>> parsed;
  do {
    parsed.emplace();
    parsed->body_limit(boost::none);
    done = false;
    http::async_read(d.socket, d.buffer, *parsed, [&](beast::error_code e, std::size_t) {
      result = e;
      done = true;
    });
    if (!run_bounded(d.ioc, d.socket, done, d.timeout)) {
      d.open = false;
      throw HttpClientError("read timed out");
    }
    if (result) {
      close();
      throw HttpClientError("read failed: " + result.message());
    }
  } while (parsed->get().result_int() / 100 == 1);
  auto& parser = *parsed;
  HttpResponse out;
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  if (!out.keep_alive) close();
  return out;
}

// ---- RawConnection ----

struct RawConnection::Impl {
  asio::io_context ioc;
  tcp::socket socket{ioc};
};

RawConnection::RawConnection(const std::string& host, std::uint16_t port, std::chrono::milliseconds connect_timeout)
    : impl_(std::make_unique<Impl>()) {
  connect(impl_->ioc, impl_->socket, host, port, connect_timeout);
}

RawConnection::~RawConnection() {
  beast::error_code ignored;
  impl_->socket.close(ignored);
}

bool RawConnection::send(std::string_view bytes) {
  beast::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

void RawConnection::shutdown_send() {
  beast::error_code ignored;
  impl_->socket.shutdown(tcp::socket::shutdown_send, ignored);
}

namespace {

// Complete when `data` holds a whole response with a Content-Length body (or no body).
bool has_whole_response(const std::string& data) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const HttpResponse head = parse_response(std::string_view(data).substr(0, end + 4));
  const std::string length = head.header("content-length");
  if (length.empty()) return true;
  return data.size() >= end + 4 + std::stoul(length);
}

RawConnection::ReadResult read_loop(asio::io_context& ioc, tcp::socket& socket, std::chrono::milliseconds timeout,
                                    bool stop_at_response) {
  RawConnection::ReadResult out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 16 * 1024> chunk{};
  bool finished = false;
  std::function<void()> read_more;
  read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      out.data.append(chunk.data(), n);
      if (ec) {
        out.closed = true;
        finished = true;
        return;
      }
      if (stop_at_response && has_whole_response(out.data)) {
        finished = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  ioc.restart();
  ioc.run_until(deadline);
  if (!finished) {
    // Timed out: cancel the pending read but keep the connection usable.
    socket.cancel();
    ioc.restart();
    ioc.run();
    if (out.closed) out.closed = false;  // the cancellation is not the peer closing
  }
  return out;
}

}  // namespace

RawConnection::ReadResult RawConnection::read_until_closed(std::chrono::milliseconds timeout) {
  return read_loop(impl_->ioc, impl_->socket, timeout, false);
}

RawConnection::ReadResult RawConnection::read_response(std::chrono::milliseconds timeout) {
  return read_loop(impl_->ioc, impl_->socket, timeout, true);
}

std::string basic_auth(std::string_view user) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = std::string(user) + ":";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16 |
                       unsigned(static_cast<unsigned char>(in[i + 1])) << 8 | static_cast<unsigned char>(in[i + 2]);
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (in.size() - i == 1) {
    const unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16;
    out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    const unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16 | unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return "Basic " + out;
}

}  // namespace omt::test
