// The table list is the one home of what a migration moves: a new table in the SQLite queue is one entry here
// (the PostgreSQL side's column types are read from its catalogue). A table in the file that is not listed, and
// holds rows, stops the migration: nothing may be lost without the operator hearing of it.
#include "omt/queue/migrate.hpp"

#include <algorithm>
#include <set>

#include "../record_chunk.hpp"
#include "../sqlite/queue_export.hpp"
#include "connection.hpp"
#include "omt/queue/queue_file_lock.hpp"
#include "schema.hpp"
#include "partition_floors.hpp"
#include "table_import.hpp"

namespace omt::queue {
namespace {

struct MovedTable {
  const char* table;  // the same name in both databases
  // The SQLite select, its columns in the order of `columns`; nullptr: the chunks, unpacked (kRecordColumns).
  const char* select;
  std::vector<std::string> columns;
  const char* sqlite_table;  // where the rows come from (its id counter too)
};

// Parents before children, and the order the PostgreSQL queue's own tables come in.
const std::vector<MovedTable>& moved_tables() {
  static const std::vector<MovedTable> tables = {
      {"records", nullptr,
       {std::begin(sqlite::kRecordColumns), std::end(sqlite::kRecordColumns)}, "chunks"},
      // A SQLite dead letter has no lane: it was dead-lettered live, and `dead-letter replay` puts it back live.
      {"dead_letters", "SELECT id, api_key, type, 0, json, attempts, created_at, reason, dead_at FROM dead_letters ORDER BY id",
       {"id", "api_key", "type", "lane", "json", "attempts", "created_at", "reason", "dead_at"}, "dead_letters"},
      {"held_keys", "SELECT api_key, reason, held_at FROM held_keys ORDER BY api_key",
       {"api_key", "reason", "held_at"}, "held_keys"},
      {"rejected_events", "SELECT id, source, route, reason, rejected_at, event FROM rejected_events ORDER BY id",
       {"id", "source", "route", "reason", "rejected_at", "event"}, "rejected_events"},
      {"ometria_errors",
       "SELECT id, api_key, digest, message, path, record_id, request_id, record_type, time_stamp, occurrences,"
       " first_seen_at, last_seen_at, latest_new_at, matched_record_ids, matched_request_id, matched_type,"
       " matched_pushed_at FROM ometria_errors ORDER BY id",
       {"id", "api_key", "digest", "message", "path", "record_id", "request_id", "record_type", "time_stamp",
        "occurrences", "first_seen_at", "last_seen_at", "latest_new_at", "matched_record_ids", "matched_request_id",
        "matched_type", "matched_pushed_at"},
       "ometria_errors"},
      // PostgreSQL schema version 2's tables. The checkpoint's offset is read_offset there (offset is a keyword).
      {"lane_totals", "SELECT api_key, type, lane, delivered, dead_lettered FROM lane_totals ORDER BY api_key, type, lane",
       {"api_key", "type", "lane", "delivered", "dead_lettered"}, "lane_totals"},
      {"import_runs",
       "SELECT id, run_key, source, arguments, state, records, started_at, updated_at FROM import_runs ORDER BY id",
       {"id", "run_key", "source", "arguments", "state", "records", "started_at", "updated_at"}, "import_runs"},
      {"import_files", "SELECT run_id, file_index, path, size, head_hash FROM import_files ORDER BY run_id, file_index",
       {"run_id", "file_index", "path", "size", "head_hash"}, "import_files"},
      {"import_checkpoints",
       "SELECT run_id, file_index, pass, offset, line, records, done, updated_at FROM import_checkpoints"
       " ORDER BY run_id, file_index, pass",
       {"run_id", "file_index", "pass", "read_offset", "line", "records", "done", "updated_at"}, "import_checkpoints"},
      {"request_log",
       "SELECT id, at, source, key_fingerprint, type, lane, records, status, failure, request_id, accepted, rejected,"
       " duration_ms FROM request_log ORDER BY id",
       {"id", "at", "source", "key_fingerprint", "type", "lane", "records", "status", "failure", "request_id",
        "accepted", "rejected", "duration_ms"},
       "request_log"},
  };
  return tables;
}

Error refused(const std::string& message, const std::string& where) { return Error{errc::io, "queue: " + message, where}; }

// The floor under the target's id sequence for a table: no id the source ever handed out is handed out again.
Expected<std::int64_t> id_floor(sqlite::QueueExport& source, const MovedTable& t) {
  auto counter = source.id_counter(t.sqlite_table);
  if (!counter) return tl::unexpected(counter.error());
  if (std::string_view(t.table) != "records") return *counter;
  // Record ids are a chunk id and a slot: the last chunk handed out may have used any of its slots.
  return chunk::record_id(*counter, (1u << chunk::kSlotBits) - 1);
}

// The rows of every table the target has, into one count field of the report.
Expected<void> count_target(postgres::Connection& db, MigrateReport& report, std::uint64_t MigratedTable::*field) {
  for (auto& row : report.tables) {
    if (!row.moved) continue;
    auto n = postgres::count_rows(db, row.table);
    if (!n) return tl::unexpected(n.error());
    row.*field = *n;
  }
  return {};
}

// Everything after the source is open and counted: the target's part, inside one transaction.
Expected<void> copy_all(sqlite::QueueExport& source, postgres::Connection& db, const MigrateOptions& options,
                        const std::set<std::string>& source_tables, MigrateReport& report) {
  const auto& tables = moved_tables();
  std::string lock = "LOCK TABLE ";
  bool any = false;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    auto& row = report.tables[i];
    auto exists = postgres::table_exists(db, tables[i].table);
    if (!exists) return tl::unexpected(exists.error());
    row.moved = *exists;
    if (!row.moved) {
      if (row.source > 0 && !options.leave_behind) {
        return tl::unexpected(refused(
            "the source's " + std::string(tables[i].table) + " holds " + std::to_string(row.source) +
                " rows and this build's PostgreSQL queue has no table for them; --leave-behind moves the rest without them",
            db.where()));
      }
      continue;
    }
    lock += std::string(any ? ", " : "") + tables[i].table;
    any = true;
  }
  // Instances already started on the target wait (up to the lock timeout) rather than write beside the move.
  if (any) {
    if (auto r = db.run(lock + " IN EXCLUSIVE MODE", "lock the target's tables"); !r) return r;
  }
  if (auto r = count_target(db, report, &MigratedTable::target_before); !r) return r;
  const bool held = std::any_of(report.tables.begin(), report.tables.end(),
                                [](const MigratedTable& row) { return row.target_before > 0; });
  if (held) {
    std::string what;
    for (const auto& row : report.tables) {
      if (row.target_before > 0) what += (what.empty() ? "" : ", ") + row.table + " " + std::to_string(row.target_before);
    }
    return tl::unexpected(refused("the target is not empty (" + what + "); migrate only into a queue that holds nothing",
                                  db.where()));
  }
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const auto& t = tables[i];
    auto& row = report.tables[i];
    if (!row.moved || source_tables.count(t.sqlite_table) == 0) continue;
    auto import = postgres::TableImport::prepare(db, t.table, t.columns);
    if (!import) return tl::unexpected(import.error());
    auto sink = [&import](const sqlite::RowBatch& rows) { return import->insert(rows); };
    auto read = t.select == nullptr ? source.each_record_batch(sink) : source.each_batch(t.select, sink);
    if (!read) return tl::unexpected(read.error());
    if (*read != row.source) {
      return tl::unexpected(refused("read " + std::to_string(*read) + " rows of " + t.table + " where the source counts " +
                                        std::to_string(row.source),
                                    source.path().string()));
    }
    if (std::find(t.columns.begin(), t.columns.end(), "id") == t.columns.end()) continue;
    auto floor = id_floor(source, t);
    if (!floor) return tl::unexpected(floor.error());
    if (auto r = postgres::raise_id_sequence(db, t.table, *floor); !r) return r;
  }
  // Replay turns a dead letter back into a record under its own id: the records' sequence must pass those too.
  const auto dead_letters = std::find_if(report.tables.begin(), report.tables.end(),
                                         [](const MigratedTable& row) { return row.table == "dead_letters"; });
  if (dead_letters != report.tables.end() && dead_letters->moved) {
    auto dead = db.exec("SELECT COALESCE(MAX(id), 0) FROM dead_letters", "read the highest dead letter id");
    if (!dead) return tl::unexpected(dead.error());
    if (auto r = postgres::raise_id_sequence(db, "records", dead->integer(0, 0)); !r) return r;
  }
  // The records keep their ids, which may lie below floors a queue used before left behind (prepare_schema made
  // the table).
  if (auto r = postgres::forget_floors(db); !r) return r;
  if (auto r = count_target(db, report, &MigratedTable::target_after); !r) return r;
  for (const auto& row : report.tables) {
    if (row.moved && row.target_after != row.source) {
      return tl::unexpected(refused("the target would hold " + std::to_string(row.target_after) + " rows of " + row.table +
                                        " where the source holds " + std::to_string(row.source) + "; nothing was moved",
                                    db.where()));
    }
  }
  return {};
}

}  // namespace

Expected<MigrateReport> migrate_sqlite_to_postgres(const MigrateOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(options.from, ec)) {
    return tl::unexpected(refused("no queue database at " + options.from.string(), options.from.string()));
  }
  auto lock = QueueFileLock::exclusive(options.from);
  if (!lock) return tl::unexpected(lock.error());
  auto source = sqlite::QueueExport::open(options.from);
  if (!source) return tl::unexpected(source.error());

  auto names = source->tables();
  if (!names) return tl::unexpected(names.error());
  const std::set<std::string> source_tables(names->begin(), names->end());
  std::set<std::string> known;
  for (const auto& t : moved_tables()) known.insert(t.sqlite_table);
  for (const auto& name : source_tables) {
    if (known.count(name)) continue;
    auto n = source->count(name);
    if (!n) return tl::unexpected(n.error());
    if (*n > 0) {
      return tl::unexpected(refused("the source has a table this build cannot move (" + name + ", " + std::to_string(*n) +
                                        " rows); nothing was moved",
                                    options.from.string()));
    }
  }
  MigrateReport report;
  for (const auto& t : moved_tables()) {
    MigratedTable row;
    row.table = t.table;
    if (source_tables.count(t.sqlite_table)) {
      auto n = t.select == nullptr ? source->records_in_chunks() : source->count(t.sqlite_table);
      if (!n) return tl::unexpected(n.error());
      row.source = *n;
    }
    report.tables.push_back(std::move(row));
  }

  auto db = postgres::Connection::open(
      {options.to, options.connect_timeout, options.statement_timeout, "ometria-transformer queue migrate"});
  if (!db) return tl::unexpected(db.error());
  if (auto r = postgres::prepare_schema(*db); !r) return tl::unexpected(r.error());
  if (auto r = db->run("BEGIN ISOLATION LEVEL READ COMMITTED", "begin the migration"); !r) return tl::unexpected(r.error());
  auto copied = copy_all(*source, *db, options, source_tables, report);
  if (copied) copied = db->run("COMMIT", "commit the migration");
  if (!copied) {
    if (!db->broken()) (void)db->run("ROLLBACK", "roll the migration back");
    return tl::unexpected(copied.error());
  }
  return report;
}

}  // namespace omt::queue
