#include "connection.hpp"

#include <system_error>

namespace omt::queue::sqlite {

Error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::filesystem::path& path) {
  std::string message = "queue: " + std::string(what) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (SQLite code " + std::to_string(rc) + ")";
  return Error{errc::io, std::move(message), path.string()};
}

Expected<Connection> Connection::open(const ConnectionOptions& options) {
  const auto& path = options.path;
  if (options.create_if_missing && path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return fail(errc::io, "queue: cannot create directory " + path.parent_path().string() + ": " + ec.message(), path.string());
  }
  if (!options.create_if_missing) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return fail(errc::io, "queue: no queue database at " + path.string(), path.string());
  }
  // NOMUTEX: one thread at a time uses the connection (the queue's writer thread once the queue is open).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection db(raw, path);  // closed on every return below, even when the open failed
  if (opened != SQLITE_OK) return tl::unexpected(db.error(opened, "open " + path.string()));
  sqlite3_extended_result_codes(raw, 1);
  if (const int rc = sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count())); rc != SQLITE_OK) {
    return tl::unexpected(db.error(rc, "set busy timeout"));
  }
  return db;
}

Expected<void> Connection::exec(const char* sql, std::string_view what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  sqlite3_free(message);  // sqlite3_errmsg (in error()) says the same
  if (rc != SQLITE_OK) return tl::unexpected(error(rc, what));
  return {};
}

Expected<Statement> Connection::prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return tl::unexpected(error(rc, std::string("prepare ") + sql));
  }
  return Statement(stmt);
}

Expected<void> Connection::prepare_each(std::initializer_list<StatementSql> statements) {
  for (const auto& statement : statements) {
    auto prepared = prepare(statement.sql);
    if (!prepared) return tl::unexpected(prepared.error());
    *statement.slot = std::move(*prepared);
  }
  return {};
}

}  // namespace omt::queue::sqlite
