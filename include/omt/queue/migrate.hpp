// Moving a SQLite queue into PostgreSQL (`queue migrate`): everything the file holds, in one PostgreSQL
// transaction (all or nothing), into a target that holds nothing yet, the counts of every table compared before
// the commit (a difference rolls it all back). The source is only read, under its exclusive lock
// (queue_file_lock.hpp): refused while a server holds it, and no server starts on it meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "omt/error.hpp"

namespace omt::queue {

struct MigrateOptions {
  std::filesystem::path from;  // the SQLite queue file
  std::string to;              // a libpq connection string or URI
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{60000};  // each batch of rows
  // Tables the target has no table for (this build's PostgreSQL schema lacks them) are refused when they hold
  // rows; true moves the rest and reports them as left behind.
  bool leave_behind = false;
};

struct MigratedTable {
  std::string table;            // its name in both databases ("records": the SQLite chunks' records)
  std::uint64_t source = 0;     // rows in the SQLite file
  std::uint64_t target_before = 0;
  std::uint64_t target_after = 0;
  bool moved = true;            // false: left behind (no such table in the target)
};

struct MigrateReport {
  std::vector<MigratedTable> tables;
};

Expected<MigrateReport> migrate_sqlite_to_postgres(const MigrateOptions& options);

}  // namespace omt::queue
