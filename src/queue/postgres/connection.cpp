// Statements are sent with PQsendQueryParams and their answer awaited with poll() on the connection's socket,
// because PQexec would block for as long as a dead peer keeps the TCP connection open: a queue operation must
// fail within its timeout so that ingest can answer and delivery can retry.
#include "connection.hpp"

#include "omt/delivery/retry_policy.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace omt::queue::postgres {

namespace {

std::string trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void quote_into(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// "user@host:port/dbname" from the parsed connection options: never the password.
std::string describe(pg_conn* conn) {
  std::string where;
  if (const char* user = PQuser(conn); user && *user) where += std::string(user) + "@";
  const char* host = PQhost(conn);
  where += host && *host ? host : "localhost";
  if (const char* port = PQport(conn); port && *port) where += std::string(":") + port;
  if (const char* db = PQdb(conn); db && *db) where += std::string("/") + db;
  return where;
}

}  // namespace

Params& Params::add_array(const std::vector<std::string>& texts) {
  std::string literal = "{";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i) literal += ',';
    quote_into(literal, texts[i]);
  }
  literal += '}';
  values_.emplace_back(std::move(literal));
  return *this;
}

Params& Params::add_array(const std::vector<std::int64_t>& numbers) {
  std::string literal = "{";
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    if (i) literal += ',';
    literal += std::to_string(numbers[i]);
  }
  literal += '}';
  values_.emplace_back(std::move(literal));
  return *this;
}

std::chrono::milliseconds reconnect_delay(unsigned failures, double random01) {
  if (failures == 0) return std::chrono::milliseconds(0);
  // The same capped doubling as a push's retries (one home for it), with steps of its own.
  delivery::RetryConfig steps;
  steps.base_delay = std::chrono::milliseconds(100);
  steps.max_delay = std::chrono::milliseconds(5000);
  const auto ceiling = delivery::backoff_ceiling(failures, steps);
  const double share = 0.5 + 0.5 * std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(ceiling.count()) * share));
}

void Result::clear(pg_result* result) { PQclear(result); }
int Result::rows() const { return PQntuples(result_.get()); }
std::size_t Result::changed() const {
  const char* n = PQcmdTuples(result_.get());
  return n && *n ? static_cast<std::size_t>(std::strtoull(n, nullptr, 10)) : 0;
}
bool Result::is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column), static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}
std::optional<std::string> Result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}
std::int64_t Result::integer(int row, int column) const {
  return std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
}

void Connection::finish(pg_conn* conn) {
  if (conn != nullptr) PQfinish(conn);
}

Connection::Connection(pg_conn* conn, std::chrono::milliseconds statement_timeout, std::string where,
                       std::atomic<std::uint64_t>* round_trips)
    : conn_(conn, &finish), statement_timeout_(statement_timeout), where_(std::move(where)), round_trips_(round_trips) {}

Expected<Connection> Connection::open(const ConnectOptions& options) {
  // Parsed first, for an error that says the URL is wrong rather than that the server could not be reached.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string detail = parse_error ? trimmed(parse_error) : "out of memory";
    if (parse_error) PQfreemem(parse_error);
    return fail(errc::invalid_config, "queue: postgres: queue.url is not a libpq connection string or URI: " + detail);
  }
  PQconninfoFree(parsed);
  // libpq counts connect_timeout in whole seconds; the URL's own settings come later and win.
  const auto seconds = std::max<std::int64_t>(1, (options.connect_timeout.count() + 999) / 1000);
  const std::string connect_timeout = std::to_string(seconds);
  const std::string user_timeout = std::to_string(options.statement_timeout.count());
  const char* keys[] = {"connect_timeout", "application_name", "keepalives", "keepalives_idle", "tcp_user_timeout",
                        "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(), options.application_name.c_str(), "1", "30", user_timeout.c_str(),
                          options.url.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return fail(errc::io, "queue: postgres: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string detail = trimmed(PQerrorMessage(conn));
    std::string where = describe(conn);
    PQfinish(conn);
    return fail(errc::io, "queue: postgres: cannot connect to " + where + ": " + detail);
  }
  // Notices (a table that already exists, skipped) are the server being chatty, not news for the log.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  Connection c(conn, options.statement_timeout, describe(conn), options.round_trips);
  const std::string set = "SET statement_timeout = " + std::to_string(options.statement_timeout.count()) +
                          "; SET lock_timeout = " + std::to_string(options.statement_timeout.count());
  if (auto r = c.run(set, "set the statement timeout"); !r) return tl::unexpected(r.error());
  return c;
}

bool Connection::broken() const { return !conn_ || timed_out_ || PQstatus(conn_.get()) != CONNECTION_OK; }

Error Connection::error_of(std::string_view what, std::string detail) {
  return Error{errc::io, "queue: postgres: " + std::string(what) + ": " + detail, where_};
}

Expected<Result> Connection::wait_for_result(std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + statement_timeout_ + std::chrono::seconds(1);
  if (round_trips_ != nullptr) round_trips_->fetch_add(1, std::memory_order_relaxed);
  pg_conn* conn = conn_.get();
  while (PQisBusy(conn)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out_ = true;  // the answer may still come: this connection can no longer be trusted to be in step
      return tl::unexpected(error_of(what, "no answer within " + std::to_string(statement_timeout_.count()) + " ms"));
    }
    pollfd fd{PQsocket(conn), POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return tl::unexpected(error_of(what, std::strerror(errno)));
    if (ready > 0 && PQconsumeInput(conn) == 0) {
      return tl::unexpected(error_of(what, "connection lost: " + trimmed(PQerrorMessage(conn))));
    }
  }
  // One result per statement; the last one answers, the first error wins.
  std::optional<Result> last;
  std::optional<std::string> failed;
  while (pg_result* r = PQgetResult(conn)) {
    Result result(r);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !failed) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      std::string detail = trimmed(PQresultErrorMessage(r));
      if (state && std::strcmp(state, "57014") == 0) detail = "did not finish within the statement timeout (" + detail + ")";
      if (state && std::strcmp(state, "55P03") == 0) detail = "waited for a lock longer than the lock timeout (" + detail + ")";
      if (detail.empty()) detail = trimmed(PQerrorMessage(conn));
      failed = std::move(detail);
    }
    last.emplace(std::move(result));
  }
  if (broken()) {
    return tl::unexpected(error_of(what, "connection lost: " + (failed ? *failed : trimmed(PQerrorMessage(conn)))));
  }
  if (failed) return tl::unexpected(error_of(what, *failed));
  if (!last) return tl::unexpected(error_of(what, "no result"));
  return std::move(*last);
}

Expected<Result> Connection::exec(std::string_view sql, const Params& params, std::string_view what) {
  if (broken()) return tl::unexpected(error_of(what, "connection lost"));
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  const std::string text(sql);
  if (PQsendQueryParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                        nullptr, 0) == 0) {
    return tl::unexpected(error_of(what, "cannot send: " + trimmed(PQerrorMessage(conn_.get()))));
  }
  return wait_for_result(what);
}

Expected<Result> Connection::exec_prepared(std::string_view name, std::string_view sql, const Params& params,
                                           std::string_view what) {
  if (broken()) return tl::unexpected(error_of(what, "connection lost"));
  const std::string statement(name);
  if (!prepared_.contains(statement)) {
    const std::string text(sql);
    if (PQsendPrepare(conn_.get(), statement.c_str(), text.c_str(), static_cast<int>(params.values().size()),
                      nullptr) == 0) {
      return tl::unexpected(error_of(what, "cannot send: " + trimmed(PQerrorMessage(conn_.get()))));
    }
    if (auto r = wait_for_result(std::string(what) + " (prepare)"); !r) return tl::unexpected(r.error());
    prepared_.insert(statement);
  }
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  if (PQsendQueryPrepared(conn_.get(), statement.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                          nullptr, 0) == 0) {
    return tl::unexpected(error_of(what, "cannot send: " + trimmed(PQerrorMessage(conn_.get()))));
  }
  return wait_for_result(what);
}

Expected<void> Connection::run(std::string_view sql, std::string_view what) {
  if (broken()) return tl::unexpected(error_of(what, "connection lost"));
  const std::string text(sql);
  if (PQsendQuery(conn_.get(), text.c_str()) == 0) {
    return tl::unexpected(error_of(what, "cannot send: " + trimmed(PQerrorMessage(conn_.get()))));
  }
  auto r = wait_for_result(what);
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace omt::queue::postgres
