#include "connection.hpp"

#include <sys/resource.h>
#include <sys/statvfs.h>

#include <cstdint>
#include <system_error>

namespace omt::queue::sqlite {

namespace {
// A write the file system refused, in the operator's words: SQLite's own ("disk I/O error") names neither the
// file nor the cause, and keeps no errno for it (sqlite3_system_errno is 0 by then). So the cause is looked for:
// no space left beside the file, or the file at the process's size limit. Empty when it was not a refused write.
std::string refused_write(int rc, const std::filesystem::path& path) {
  const bool full = rc == SQLITE_FULL;
  if (!full && rc != SQLITE_IOERR_WRITE && rc != SQLITE_IOERR_FSYNC && rc != SQLITE_IOERR_TRUNCATE &&
      rc != SQLITE_IOERR_SHMSIZE)
    return {};
  std::string cause = full ? "the disk is full" : "disk I/O error";
  const auto directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  struct statvfs disk {};
  rlimit limit{};
  std::error_code ec;
  // A few pages' worth is as good as none: SQLite writes pages, and a journal grows by several at a time.
  constexpr std::uintmax_t nearly = 1 << 20;
  if (::statvfs(directory.c_str(), &disk) == 0 && static_cast<std::uintmax_t>(disk.f_bavail) * disk.f_frsize < nearly) {
    cause = "the disk is full";
  } else if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    for (const auto& file : {path, std::filesystem::path(path.string() + "-wal"), std::filesystem::path(path.string() + "-shm")}) {
      const auto size = std::filesystem::file_size(file, ec);
      if (!ec && size + nearly >= limit.rlim_cur) cause = "the file reached the process's size limit (ulimit -f)";
    }
  }
  return "cannot write " + path.string() + " (or its -wal or -shm file): " + cause;
}
}  // namespace

Error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::filesystem::path& path) {
  std::string message = "queue: " + std::string(what) + ": ";
  if (const std::string refused = refused_write(rc, path); !refused.empty()) message += refused;
  else message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
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
