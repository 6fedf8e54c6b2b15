// One SQLite connection, its prepared statements and a query over one of them, with every SQLite failure
// turned into an omt::Error (errc::io, naming the step and SQLite's own words, the database path as its path).
// Not thread-safe: the connection is opened with SQLITE_OPEN_NOMUTEX, so one thread at a time uses it (the
// queue's writer thread, once the queue is open).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "omt/error.hpp"

namespace omt::queue::sqlite {

// "queue: <what>: <SQLite's message> (SQLite code <rc>)", with the database path as the error's path; a write
// the file system refused names the file and, when it can tell, the cause ("cannot write PATH (or its -wal or
// -shm file): the disk is full").
Error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::filesystem::path& path);

// An owned prepared statement, finalized when it goes.
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&& other) noexcept {
    std::swap(stmt_, other.stmt_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

struct ConnectionOptions {
  std::filesystem::path path;
  bool create_if_missing = true;  // also creates the file's directory; false: a missing file is an error
  std::chrono::milliseconds busy_timeout{5000};
};

class Connection {
 public:
  static Expected<Connection> open(const ConnectionOptions& options);
  Connection() = default;
  Connection(Connection&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}
  Connection& operator=(Connection&& other) noexcept {
    std::swap(db_, other.db_);
    std::swap(path_, other.path_);
    return *this;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // sqlite3_close_v2: a statement still alive keeps the connection until it is finalized.
  ~Connection() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  sqlite3* get() const { return db_; }
  const std::filesystem::path& path() const { return path_; }
  Error error(int rc, std::string_view what) const { return sqlite_error(db_, rc, what, path_); }

  // Runs SQL that returns no rows (one or more statements).
  Expected<void> exec(const char* sql, std::string_view what);
  // A statement prepared to be reused (SQLITE_PREPARE_PERSISTENT).
  Expected<Statement> prepare(const char* sql);
  // Prepares each statement into its place; stops at the first that fails.
  struct StatementSql {
    Statement* slot;
    const char* sql;
  };
  Expected<void> prepare_each(std::initializer_list<StatementSql> statements);

  // The rows the last statement changed, and the last rowid it inserted.
  std::size_t changes() const { return static_cast<std::size_t>(sqlite3_changes(db_)); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  // True while a transaction is open (some errors, disk full or I/O, make SQLite roll one back by itself).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  Connection(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

// A prepared statement, bound and stepped; reset (and its bindings cleared) when the query goes out of scope,
// so the statement is ready for the next one. Binding errors are kept and reported by the next step.
class Query {
 public:
  Query(Connection& db, const Statement& stmt, std::string_view what) : db_(db), stmt_(stmt.get()), what_(what) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query& bind(std::int64_t value) {
    keep(sqlite3_bind_int64(stmt_, ++index_, value));
    return *this;
  }
  Query& bind(std::string_view value) {
    // SQLITE_STATIC: the caller's string outlives the step; SQLite need not copy it.
    keep(sqlite3_bind_text(stmt_, ++index_, value.data(), static_cast<int>(value.size()), SQLITE_STATIC));
    return *this;
  }
  // An absent value is NULL.
  Query& bind_optional(const std::optional<std::string>& value) {
    if (value) return bind(std::string_view(*value));
    keep(sqlite3_bind_null(stmt_, ++index_));
    return *this;
  }
  Query& bind_blob(std::string_view value) {
    keep(sqlite3_bind_blob64(stmt_, ++index_, value.data(), value.size(), SQLITE_STATIC));
    return *this;
  }
  // true: a row is ready; false: done.
  Expected<bool> step() {
    if (bind_rc_ != SQLITE_OK) return tl::unexpected(db_.error(bind_rc_, what_));
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return tl::unexpected(db_.error(rc, what_));
  }
  // Steps a statement that returns no rows; the number of rows it changed.
  Expected<std::size_t> run() {
    auto stepped = step();
    if (!stepped) return tl::unexpected(stepped.error());
    return db_.changes();
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::optional<std::string> optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
  }
  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return data == nullptr ? std::string{} : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::string blob(int column) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return data == nullptr ? std::string{} : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  void keep(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  Connection& db_;
  sqlite3_stmt* stmt_;
  std::string_view what_;
  int index_ = 0;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace omt::queue::sqlite
