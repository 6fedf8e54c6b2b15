// One libpq connection as the PostgreSQL queue uses it: every statement sent with its parameters as text and
// answered within a timeout (the socket is polled, so a server or network that stops answering is an error after
// the timeout, never a hang), and the server's statement_timeout set to the same. A lost connection is an
// errc::io error that names the step; the connection then reports broken() and the caller opens a new one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "omt/error.hpp"

struct pg_conn;
struct pg_result;

namespace omt::queue::postgres {

struct ConnectOptions {
  std::string url;  // a libpq connection string or URI
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{10000};  // each statement, on the server and while waiting here
  std::string application_name = "ometria-transformer";
  // Counts each answer awaited from the server (a statement, a prepare, several statements sent as one): the
  // round trips the queue costs, shown as omt_queue_database_round_trips_total. Not owned; may be null.
  std::atomic<std::uint64_t>* round_trips = nullptr;
};

// Parameters of one statement, as text (NULL when absent); PostgreSQL casts them to the column types.
class Params {
 public:
  Params& add(std::string_view text) { values_.emplace_back(std::string(text)); return *this; }
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(std::int64_t number) { values_.emplace_back(std::to_string(number)); return *this; }
  Params& add(const std::optional<std::string>& text) { values_.push_back(text); return *this; }
  Params& add_null() { values_.emplace_back(std::nullopt); return *this; }
  // A PostgreSQL array literal ({"a","b"}) of texts or numbers.
  Params& add_array(const std::vector<std::string>& texts);
  Params& add_array(const std::vector<std::int64_t>& numbers);
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// The rows a statement returned (or how many it changed).
class Result {
 public:
  explicit Result(pg_result* result) : result_(result, &clear) {}
  int rows() const;
  std::size_t changed() const;  // rows an INSERT / UPDATE / DELETE changed
  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  std::int64_t integer(int row, int column) const;

 private:
  static void clear(pg_result* result);
  std::unique_ptr<pg_result, void (*)(pg_result*)> result_;
};

// How long to wait before the next attempt to connect after `failures` attempts in a row failed: doubling from
// 100 ms up to 5 s, drawn in [half, whole] of that (random01 in [0, 1)) so that instances that lost the same
// server do not come back in step. Pure: one attempt per step, never a connect per operation.
std::chrono::milliseconds reconnect_delay(unsigned failures, double random01);

class Connection {
 public:
  static Expected<Connection> open(const ConnectOptions& options);
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection() = default;

  // Runs one statement; `what` names the step in errors ("queue: postgres: lease: ...").
  Expected<Result> exec(std::string_view sql, const Params& params, std::string_view what);
  Expected<Result> exec(std::string_view sql, std::string_view what) { return exec(sql, Params{}, what); }
  // As exec, for a statement run often (delivery's): prepared on this connection the first time under `name`
  // (one extra round trip), then sent by name, so the server neither parses nor plans it again.
  Expected<Result> exec_prepared(std::string_view name, std::string_view sql, const Params& params,
                                 std::string_view what);
  // Runs statements without parameters (several separated by ';'), for the schema and transactions.
  Expected<void> run(std::string_view sql, std::string_view what);

  // The connection was lost (or timed out): every further statement fails; open a new one.
  bool broken() const;
  // Where it is connected, without a password: "omt@127.0.0.1:5432/omt".
  const std::string& where() const { return where_; }

 private:
  Connection(pg_conn* conn, std::chrono::milliseconds statement_timeout, std::string where,
             std::atomic<std::uint64_t>* round_trips);
  Expected<Result> wait_for_result(std::string_view what);
  Error error_of(std::string_view what, std::string detail);
  static void finish(pg_conn* conn);

  std::unique_ptr<pg_conn, void (*)(pg_conn*)> conn_;
  std::chrono::milliseconds statement_timeout_;
  std::string where_;
  std::atomic<std::uint64_t>* round_trips_ = nullptr;
  bool timed_out_ = false;
  std::unordered_set<std::string> prepared_;  // statement names prepared on this connection
};

}  // namespace omt::queue::postgres
