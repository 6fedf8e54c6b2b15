// The fake Ometria push API: one coroutine per connection, each on its own strand, over an io_context run by
// the fake's own threads. Shared observations live under one mutex with a condition variable for the waits.
#include "fake_ometria.hpp"

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (their class-specific operator
// new/delete recycle memory per thread); nothing in this file allocates coroutine frames by hand.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace omt::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// ---- TempDir ----------------------------------------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/omt-test-XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// ---- Test PKI ---------------------------------------------------------------------------------------------

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

KeyPtr make_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EC key generation");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "certificate extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed CA. Otherwise a server certificate for the subject alternative names `san`.
CertPtr make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                  const std::string& san) {
  CertPtr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7L * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert.get();
  if (!issuer) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), signer, NID_subject_alt_name, san.c_str());
    add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid");
  }
  check(X509_sign(cert.get(), issuer ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "opening a PEM file");
  const bool ok = cert ? PEM_write_X509(f, cert) == 1
                       : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  check(ok, "writing a PEM file");
}

}  // namespace

TestPki make_test_pki(const std::string& dir, const std::vector<std::string>& extra_server_names) {
  TestPki pki;
  const auto path = [&](const char* name) { return dir + "/" + name; };
  const std::string local_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
  std::string server_names = local_names;
  for (const auto& name : extra_server_names) {
    if (name.find_first_of(",:\n") != std::string::npos) throw std::runtime_error("test PKI: bad host name " + name);
    server_names += ",DNS:" + name;
  }

  KeyPtr ca_key = make_key();
  CertPtr ca = make_cert(ca_key.get(), "ometria-transformer test CA", nullptr, nullptr, "");
  KeyPtr server_key = make_key();
  CertPtr server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), server_names);
  KeyPtr wrong_key = make_key();
  CertPtr wrong = make_cert(wrong_key.get(), "wrong-host.invalid", ca.get(), ca_key.get(), "DNS:wrong-host.invalid");
  KeyPtr other_ca_key = make_key();
  CertPtr other_ca = make_cert(other_ca_key.get(), "untrusted test CA", nullptr, nullptr, "");
  KeyPtr untrusted_key = make_key();
  CertPtr untrusted = make_cert(untrusted_key.get(), "localhost", other_ca.get(), other_ca_key.get(), local_names);

  pki.ca_file = path("ca.pem");
  pki.server_cert_file = path("cert.pem");
  pki.server_key_file = path("key.pem");
  pki.wrong_host_cert_file = path("wrong-host-cert.pem");
  pki.wrong_host_key_file = path("wrong-host-key.pem");
  pki.untrusted_cert_file = path("untrusted-cert.pem");
  pki.untrusted_key_file = path("untrusted-key.pem");
  write_pem(pki.ca_file, ca.get(), nullptr);
  write_pem(pki.server_cert_file, server.get(), nullptr);
  write_pem(pki.server_key_file, nullptr, server_key.get());
  write_pem(pki.wrong_host_cert_file, wrong.get(), nullptr);
  write_pem(pki.wrong_host_key_file, nullptr, wrong_key.get());
  write_pem(pki.untrusted_cert_file, untrusted.get(), nullptr);
  write_pem(pki.untrusted_key_file, nullptr, untrusted_key.get());
  return pki;
}

// ---- ScriptedAnswer ---------------------------------------------------------------------------------------

ScriptedAnswer ScriptedAnswer::with_status(int status, std::optional<std::string> retry_after) {
  ScriptedAnswer a;
  a.status = status;
  if (retry_after) a.headers.emplace_back("Retry-After", *retry_after);
  return a;
}

ScriptedAnswer ScriptedAnswer::dropped() {
  ScriptedAnswer a;
  a.kind = Kind::drop;
  return a;
}

ScriptedAnswer ScriptedAnswer::slow(std::chrono::milliseconds delay) {
  ScriptedAnswer a;
  a.delay = delay;
  return a;
}

// ---- FakeOmetria ------------------------------------------------------------------------------------------

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string problem(int status, const std::string& detail) {
  return nlohmann::json{{"type", "about:blank"}, {"status", status}, {"detail", detail}}.dump();
}

// What the fake decided to do with one request.
struct Plan {
  ScriptedAnswer::Kind kind = ScriptedAnswer::Kind::answer;
  int status = 202;
  Headers headers;
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds delay{0};
  bool accept = false;  // a push that passed validation: record it and answer with its request_id
  int rejected = 0;
  std::vector<ReceivedRecord> records;  // to record on acceptance
};

}  // namespace

struct FakeOmetria::Impl {
  explicit Impl(FakeOmetriaOptions opts) : options(std::move(opts)), tls_context(ssl::context::tls_server) {}

  FakeOmetriaOptions options;
  ssl::context tls_context;
  std::optional<asio::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  unsigned short bound_port = 0;
  bool stopped = false;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::deque<ScriptedAnswer> scripted;
  std::map<std::string, int> key_status;
  int every_push_status = 0;
  std::optional<std::string> every_push_retry_after;
  Headers extra_headers;
  std::chrono::milliseconds delay{0};
  bool holding = false;
  std::vector<std::shared_ptr<asio::steady_timer>> held_timers;
  std::vector<ReceivedRecord> records;
  std::vector<ReceivedPush> pushes;
  std::vector<RequestSeen> requests;
  std::size_t record_total = 0;
  std::size_t request_total = 0;
  std::uint64_t push_total = 0;
  std::size_t connections = 0;
  std::size_t concurrent = 0;
  std::size_t max_concurrent = 0;
  struct LaterRejection {
    std::string message;
    std::string path;
  };
  std::map<std::string, LaterRejection> reject_later;  // by record id
  std::map<std::string, std::deque<nlohmann::json>> errors;  // by key: the last 100, oldest first
  std::size_t error_polls = 0;
  bool errors_with_ids = false;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> recent_pushes;  // by key: the last second
  std::map<std::string, std::map<std::int64_t, std::size_t>> per_second;                 // by key, unix second
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> push_times;  // by key: the last 300 s
  std::size_t rate_limited = 0;

  // Under the lock: counts a push of the key, and whether it is over the rate limit.
  bool over_rate_limit(const std::string& key) {
    const auto now = std::chrono::steady_clock::now();
    const auto second = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    auto& counts = per_second[key];
    ++counts[second];
    while (!counts.empty() && counts.begin()->first < second - 300) counts.erase(counts.begin());
    auto& times = push_times[key];
    times.push_back(now);
    while (now - times.front() > std::chrono::seconds(300)) times.pop_front();
    if (options.rate_limit == 0) return false;
    auto& recent = recent_pushes[key];
    while (!recent.empty() && now - recent.front() >= std::chrono::seconds(1)) recent.pop_front();
    if (recent.size() >= options.rate_limit) {
      ++rate_limited;
      return true;
    }
    recent.push_back(now);
    return false;
  }

  // Under the lock: per key, the most pushes received within any window_ms (a sliding window, not calendar seconds).
  nlohmann::json most_pushes_in_any_second(long window_ms) const {
    nlohmann::json most = nlohmann::json::object();
    for (const auto& [key, times] : push_times) {
      std::size_t best = 0;
      for (std::size_t first = 0, last = 0; last < times.size(); ++last) {
        while (times[last] - times[first] >= std::chrono::milliseconds(window_ms)) ++first;
        best = std::max(best, last - first + 1);
      }
      most[key] = best;
    }
    return most;
  }

  void start() {
    if (options.tls) {
      tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
      tls_context.use_certificate_chain_file(options.cert_file);
      tls_context.use_private_key_file(options.key_file, ssl::context::pem);
    }
    io.emplace();
    acceptor.emplace(*io);
    const tcp::endpoint endpoint(asio::ip::make_address(options.address), options.port);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen(asio::socket_base::max_listen_connections);
    bound_port = acceptor->local_endpoint().port();
    asio::co_spawn(*io, accept_loop(), asio::detached);
    for (int i = 0; i < std::max(1, options.threads); ++i) threads.emplace_back([this] { io->run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      stopped = true;
    }
    io->stop();
    for (auto& t : threads) t.join();
    threads.clear();
    // Pending coroutines (and their sockets and timers) are destroyed with the io_context, after the acceptor.
    acceptor.reset();
    held_timers.clear();
    io.reset();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(asio::make_strand(*io), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. out of file descriptors: keep serving the connections already open
      }
      std::uint64_t connection;
      {
        std::lock_guard lock(mutex);
        connection = ++connections;
      }
      changed.notify_all();
      const auto executor = socket.get_executor();
      if (options.tls) {
        asio::co_spawn(executor, serve_tls(std::move(socket), connection), asio::detached);
      } else {
        asio::co_spawn(executor, serve(beast::tcp_stream(std::move(socket)), connection, std::string()), asio::detached);
      }
    }
  }

  asio::awaitable<void> serve_tls(tcp::socket socket, std::uint64_t connection) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls_context);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // e.g. the client refused our certificate
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    co_await serve(std::move(stream), connection, sni ? sni : "");
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream stream, std::uint64_t connection, std::string server_name) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(64 * 1024);
      beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;  // closed by the client, idle timeout, or a request we will not read
      beast::get_lowest_layer(stream).expires_never();
      Request request = parser.release();

      RequestSeen seen;
      seen.api_key = std::string(request["X-Ometria-Auth"]);
      seen.method = std::string(request.method_string());
      seen.target = std::string(request.target());
      seen.content_type = std::string(request[http::field::content_type]);
      seen.user_agent = std::string(request[http::field::user_agent]);
      seen.server_name = server_name;
      seen.connection = connection;
      seen.body_bytes = request.body().size();
      seen.received = std::chrono::steady_clock::now();

      Plan plan = decide(request, seen.api_key);
      {
        std::lock_guard lock(mutex);
        ++concurrent;
        max_concurrent = std::max(max_concurrent, concurrent);
      }
      co_await wait_if_held(stream.get_executor());
      if (plan.delay.count() > 0) {
        asio::steady_timer timer(stream.get_executor(), plan.delay);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }

      if (plan.kind != ScriptedAnswer::Kind::answer) {
        if (plan.kind == ScriptedAnswer::Kind::accept_then_drop && plan.accept) accept(plan, seen.api_key, connection);
        finish(std::move(seen), 0);
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
        beast::get_lowest_layer(stream).close();
        co_return;
      }
      if (plan.accept) {
        const ReceivedPush push = accept(plan, seen.api_key, connection);
        if (plan.body.empty()) {
          plan.body = nlohmann::json{{"status", "OK"},
                                     {"request_id", push.request_id},
                                     {"accepted", push.records},
                                     {"rejected", plan.rejected}}
                          .dump();
        }
      }

      Response response{static_cast<http::status>(plan.status), request.version()};
      response.set(http::field::server, "fake-ometria");
      response.set(http::field::content_type, plan.content_type);
      for (const auto& [name, value] : plan.headers) response.set(name, value);
      response.keep_alive(request.keep_alive());
      response.body() = std::move(plan.body);
      response.prepare_payload();
      finish(std::move(seen), plan.status);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
      co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !response.keep_alive()) {
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return;
      }
    }
  }

  template <class Executor>
  asio::awaitable<void> wait_if_held(Executor executor) {
    std::shared_ptr<asio::steady_timer> timer;
    {
      std::lock_guard lock(mutex);
      if (!holding) co_return;
      timer = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
      held_timers.push_back(timer);
    }
    changed.notify_all();
    boost::system::error_code ec;
    // release_answers() moves the expiry to the past on this strand, so the wait ends even if it starts late.
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  Plan decide(const Request& request, const std::string& key) {
    Plan plan;
    if (request.target() == "/_fake/stats" && request.method() == http::verb::get) {
      // For benchmarks: counting the --out file as it grows would cost more than the fake itself.
      std::lock_guard lock(mutex);
      plan.status = 200;
      plan.content_type = "application/json";
      plan.body = nlohmann::json{{"records", record_total}, {"pushes", push_total}, {"requests", request_total}}.dump();
      return plan;
    }
    if ((request.target() == "/_fake/rates" || request.target().starts_with("/_fake/rates?window_ms=")) &&
        request.method() == http::verb::get) {
      // ?window_ms=N: the sliding window of most_pushes_in_any_second is N ms (default 1000); a client keeping to R
      // a second with some jitter in its requests' arrival never has more than R within a little less than 1000.
      const auto query = request.target().substr(std::min<std::size_t>(request.target().size(), 23));
      long window_ms = 1000;
      if (!query.empty()) window_ms = std::clamp(std::atol(std::string(query).c_str()), 1L, 60'000L);
      // Pushes per key and second, to check a client keeps to a rate (the fake's test keys, not real ones).
      std::lock_guard lock(mutex);
      nlohmann::json per_key = nlohmann::json::object();
      for (const auto& [k, seconds] : per_second) {
        nlohmann::json counts = nlohmann::json::object();
        for (const auto& [second, n] : seconds) counts[std::to_string(second)] = n;
        per_key[k] = std::move(counts);
      }
      plan.status = 200;
      plan.content_type = "application/json";
      plan.body = nlohmann::json{{"rate_limited", rate_limited},
                                 {"pushes_per_key_second", std::move(per_key)},
                                 {"most_pushes_in_any_second", most_pushes_in_any_second(window_ms)}}
                      .dump();
      return plan;
    }
    if (request.target() == "/v2/push/_errors") return list_errors(request, key);
    std::optional<ScriptedAnswer> script;
    {
      std::lock_guard lock(mutex);
      plan.headers = extra_headers;
      plan.delay = delay;
      const auto it = std::find_if(scripted.begin(), scripted.end(), [&](const ScriptedAnswer& a) {
        return a.only_for_key.empty() || a.only_for_key == key;
      });
      if (it != scripted.end()) {
        script = std::move(*it);
        scripted.erase(it);
      }
      if (!script) {
        if (const auto forced = key_status.find(key); forced != key_status.end()) {
          plan.status = forced->second;
          plan.content_type = "application/problem+json";
          plan.body = problem(plan.status, "the API key is not allowed");
          return plan;
        }
        if (request.target() == "/v2/push" && request.method() == http::verb::post && over_rate_limit(key)) {
          plan.status = 429;
          plan.content_type = "application/problem+json";
          plan.body = problem(429, "more than " + std::to_string(options.rate_limit) + " pushes in a second");
          plan.headers.emplace_back("Retry-After", "1");
          return plan;
        }
        if (every_push_status != 0 && request.target() == "/v2/push") {
          plan.status = every_push_status;
          plan.content_type = "application/problem+json";
          plan.body = problem(plan.status, "every push is answered " + std::to_string(every_push_status));
          if (every_push_retry_after) plan.headers.emplace_back("Retry-After", *every_push_retry_after);
          return plan;
        }
      }
    }
    if (script) {
      plan.kind = script->kind;
      plan.delay = script->delay.count() > 0 ? script->delay : plan.delay;
      plan.headers.insert(plan.headers.end(), script->headers.begin(), script->headers.end());
      if (script->status != 0) {
        plan.status = script->status;
        plan.content_type = "application/problem+json";
        plan.body = script->body ? *script->body : problem(plan.status, "scripted answer");
        return plan;
      }
    }
    validate(request, key, plan);
    if (script && script->body) plan.body = *script->body;
    return plan;
  }

  // The normal handling of a push, as Ometria documents it.
  void validate(const Request& request, const std::string& key, Plan& plan) {
    const auto reject = [&](int status, const std::string& detail) {
      plan.status = status;
      plan.content_type = "application/problem+json";
      plan.body = problem(status, detail);
    };
    if (request.target() != "/v2/push") return reject(404, "unknown path");
    if (request.method() != http::verb::post) return reject(405, "only POST");
    if (std::find(options.keys.begin(), options.keys.end(), key) == options.keys.end())
      return reject(401, "missing or unknown X-Ometria-Auth");
    // simdjson, not nlohmann: in benchmarks this process shares the machine with the service, and parsing is
    // most of its work.
    thread_local simdjson::dom::parser parser;
    simdjson::dom::array body;
    if (parser.parse(request.body()).get_array().get(body) != simdjson::SUCCESS) {
      return reject(400, "Payload invalid: the body must be a JSON array");
    }
    // Ometria's limit is 100 records a push; it documents no status for more. 413 says "too large" and is a
    // status delivery treats as final (dead-letter), as it must: the same push would be refused again.
    if (body.size() > options.max_records)
      return reject(413, "Payload invalid: more than " + std::to_string(options.max_records) + " records");
    for (simdjson::dom::element element : body) {
      std::string text = simdjson::minify(element);
      if (text.size() > options.max_record_bytes) return reject(400, "Payload invalid: Record is too large.");
      simdjson::dom::element type, id;
      if (!element.is_object() || element["@type"].get(type) != simdjson::SUCCESS ||
          element["id"].get(id) != simdjson::SUCCESS) {
        ++plan.rejected;  // Ometria validates records after answering; a malformed one is counted, not refused
        continue;
      }
      ReceivedRecord record;
      record.api_key = key;
      record.type = type.is_string() ? std::string(type.get_string().value_unsafe()) : simdjson::minify(type);
      record.id = id.is_string() ? std::string(id.get_string().value_unsafe()) : simdjson::minify(id);
      record.json = std::move(text);
      plan.records.push_back(std::move(record));
    }
    plan.status = 202;
    plan.accept = true;
    plan.body.clear();  // written once the push has its request_id
  }

  // GET /v2/push/_errors: the key's list, like a push's key checks (a refused key is refused here too).
  Plan list_errors(const Request& request, const std::string& key) {
    Plan plan;
    const auto refuse = [&](int status, const std::string& detail) {
      plan.status = status;
      plan.content_type = "application/problem+json";
      plan.body = problem(status, detail);
      return plan;
    };
    if (request.method() != http::verb::get) return refuse(405, "only GET");
    std::lock_guard lock(mutex);
    plan.headers = extra_headers;
    plan.delay = delay;
    if (const auto forced = key_status.find(key); forced != key_status.end()) return refuse(forced->second, "the API key is not allowed");
    if (std::find(options.keys.begin(), options.keys.end(), key) == options.keys.end())
      return refuse(401, "missing or unknown X-Ometria-Auth");
    plan.status = 200;
    nlohmann::json list = nlohmann::json::array();
    if (const auto it = errors.find(key); it != errors.end()) {
      for (const auto& entry : it->second) list.push_back(entry);
    }
    plan.body = list.dump();
    ++error_polls;
    return plan;
  }

  // Under the lock: the records of an accepted push that its asynchronous validation rejects.
  void reject_accepted(const ReceivedPush& push, const std::vector<ReceivedRecord>& accepted) {
    for (const auto& r : accepted) {
      const auto rule = reject_later.find(r.id);
      if (rule == reject_later.end()) continue;
      nlohmann::json entry = {{"error_message", rule->second.message}, {"error_path", rule->second.path}};
      if (errors_with_ids) {
        entry["record_id"] = r.id;
        entry["request_id"] = push.request_id;
        entry["record_type"] = r.type;
        entry["time_stamp"] = "2026-01-01T00:00:00Z";
      }
      auto& list = errors[push.api_key];
      list.push_back(std::move(entry));
      if (list.size() > 100) list.pop_front();  // Ometria lists the last 100
    }
  }

  ReceivedPush accept(Plan& plan, const std::string& key, std::uint64_t connection) {
    ReceivedPush push;
    push.api_key = key;
    push.records = plan.records.size();
    push.connection = connection;
    for (auto& r : plan.records)
      if (std::find(push.types.begin(), push.types.end(), r.type) == push.types.end()) push.types.push_back(r.type);
    {
      std::lock_guard lock(mutex);
      push.number = ++push_total;
      push.request_id = "fake-" + std::to_string(push.number);
      for (auto& r : plan.records) r.push = push.number;
      reject_accepted(push, plan.records);
      record_total += plan.records.size();
      if (options.keep_records) {
        records.insert(records.end(), plan.records.begin(), plan.records.end());
        pushes.push_back(push);
      }
    }
    if (options.on_push) options.on_push(push, plan.records);
    changed.notify_all();
    return push;
  }

  void finish(RequestSeen seen, int status) {
    seen.status = status;
    {
      std::lock_guard lock(mutex);
      --concurrent;
      ++request_total;
      if (options.keep_records) requests.push_back(std::move(seen));
    }
    changed.notify_all();
  }
};

FakeOmetria::FakeOmetria(FakeOmetriaOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  impl_->start();
}

FakeOmetria::~FakeOmetria() { stop(); }

void FakeOmetria::stop() { impl_->stop(); }

unsigned short FakeOmetria::port() const { return impl_->bound_port; }

std::string FakeOmetria::url() const {
  return std::string(impl_->options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + "/v2/push";
}

void FakeOmetria::script(ScriptedAnswer answer) {
  std::lock_guard lock(impl_->mutex);
  impl_->scripted.push_back(std::move(answer));
}

void FakeOmetria::set_key_status(const std::string& key, int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->key_status[key] = status;
}

void FakeOmetria::clear_key_status(const std::string& key) {
  std::lock_guard lock(impl_->mutex);
  impl_->key_status.erase(key);
}

void FakeOmetria::set_status_for_every_push(int status, std::optional<std::string> retry_after) {
  std::lock_guard lock(impl_->mutex);
  impl_->every_push_status = status;
  impl_->every_push_retry_after = std::move(retry_after);
}

void FakeOmetria::set_extra_headers(std::vector<std::pair<std::string, std::string>> headers) {
  std::lock_guard lock(impl_->mutex);
  impl_->extra_headers = std::move(headers);
}

void FakeOmetria::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mutex);
  impl_->delay = delay;
}

void FakeOmetria::hold_answers() {
  std::lock_guard lock(impl_->mutex);
  impl_->holding = true;
}

void FakeOmetria::release_answers() {
  std::lock_guard lock(impl_->mutex);
  impl_->holding = false;
  if (impl_->stopped) return;
  for (auto& timer : impl_->held_timers) {
    asio::post(timer->get_executor(), [timer] { timer->expires_at(asio::steady_timer::time_point::min()); });
  }
  impl_->held_timers.clear();
}

void FakeOmetria::reject_later(const std::string& record_id, const std::string& message, const std::string& path) {
  std::lock_guard lock(impl_->mutex);
  impl_->reject_later[record_id] = Impl::LaterRejection{message, path};
}

void FakeOmetria::list_errors_with_ids(bool with_ids) {
  std::lock_guard lock(impl_->mutex);
  impl_->errors_with_ids = with_ids;
}

std::size_t FakeOmetria::error_polls() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->error_polls;
}

std::size_t FakeOmetria::rate_limited() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->rate_limited;
}

std::map<std::string, std::map<std::int64_t, std::size_t>> FakeOmetria::pushes_per_second() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->per_second;
}

std::vector<ReceivedRecord> FakeOmetria::records() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->records;
}

std::vector<ReceivedPush> FakeOmetria::pushes() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->pushes;
}

std::vector<RequestSeen> FakeOmetria::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t FakeOmetria::record_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->record_total;
}

std::size_t FakeOmetria::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->request_total;
}

std::size_t FakeOmetria::connections_accepted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

std::size_t FakeOmetria::held() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->held_timers.size();
}

std::size_t FakeOmetria::max_concurrent_requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->max_concurrent;
}

bool FakeOmetria::wait_for_records(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->record_total >= count; });
}

bool FakeOmetria::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->request_total >= count; });
}

bool FakeOmetria::wait_for_held(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->held_timers.size() >= count; });
}

}  // namespace omt::testing
