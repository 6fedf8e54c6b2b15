// A session advisory lock, not a row: a row lease would outlive a killed process until its time ran out, while the
// server ends a session (and its locks) as soon as the client's socket closes. The two-key form keeps these locks
// apart from the migration's one-key lock (schema.cpp): PostgreSQL's two key spaces never overlap.
#include <optional>

#include "connection.hpp"
#include "omt/queue/postgres_queue.hpp"

namespace omt::queue {

struct PostgresRunLock::Impl {
  postgres::Connection connection;
};

namespace {
constexpr const char* kTryLock = "SELECT pg_try_advisory_lock(7305481, hashtext($1))";
}  // namespace

Expected<std::unique_ptr<PostgresRunLock>> PostgresRunLock::take(const PostgresQueueOptions& options,
                                                                 const std::string& name) {
  auto opened = postgres::Connection::open(
      {options.url, options.connect_timeout, options.statement_timeout, "ometria-transformer (run lock)"});
  if (!opened) return tl::unexpected(opened.error());
  postgres::Params p;
  p.add(name);
  auto taken = opened->exec(kTryLock, p, "take the lock \"" + name + "\"");
  if (!taken) return tl::unexpected(taken.error());
  if (taken->text(0, 0) != "t") return std::unique_ptr<PostgresRunLock>();
  return std::unique_ptr<PostgresRunLock>(new PostgresRunLock(std::make_unique<Impl>(Impl{std::move(*opened)})));
}

PostgresRunLock::PostgresRunLock(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresRunLock::~PostgresRunLock() = default;  // closing the connection ends the session, and the lock with it

}  // namespace omt::queue
