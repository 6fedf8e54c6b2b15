// Migrations are history: each writes the layout of the version it migrates to with its own SQL, never through
// the code that serves today's version, so a later change to that code cannot change what an old upgrade does.
#include "schema.hpp"

#include <iterator>
#include <optional>
#include <string>

#include "../record_chunk.hpp"
#include "omt/obs/queue_events.hpp"

namespace omt::queue::sqlite {
namespace {

Expected<int> read_version(Connection& db) {
  auto stmt = db.prepare("PRAGMA user_version");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db, *stmt, "read the schema version");
  auto row = q.step();
  if (!row) return tl::unexpected(row.error());
  return *row ? static_cast<int>(q.integer(0)) : 0;
}

Expected<bool> has_table(Connection& db, const char* name) {
  auto stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db, *stmt, "look for a table");
  return q.bind(std::string_view(name)).step();
}

Expected<bool> has_column(Connection& db, const char* table, const char* column) {
  auto stmt = db.prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db, *stmt, "look for a column");
  return q.bind(std::string_view(table)).bind(std::string_view(column)).step();
}

// Databases written before chunks kept one row per record in a table "records": each becomes a chunk of its
// own (new ids, same attempts and times), so an upgrade loses nothing that was queued. Returns how many.
Expected<std::uint64_t> move_record_rows_into_chunks(Connection& db) {
  auto select = db.prepare("SELECT api_key, type, json, attempts, next_attempt_at, created_at FROM records ORDER BY id");
  if (!select) return tl::unexpected(select.error());
  auto insert = db.prepare(
      "INSERT INTO chunks(api_key, type, count, next_attempt_at, created_at, records) VALUES(?, ?, 1, ?, ?, ?)");
  if (!insert) return tl::unexpected(insert.error());
  std::uint64_t moved = 0;
  {
    Query q(db, *select, "read records to migrate");
    for (;;) {
      auto row = q.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      const std::string json = q.text(2);
      const chunk::Entry entry{0, static_cast<std::uint32_t>(q.integer(3)), q.integer(4), q.integer(5), json};
      const std::string blob = chunk::encode({entry});
      // Bound without a copy (SQLITE_STATIC): the texts must live until the insert has run.
      const std::string api_key = q.text(0), type = q.text(1);
      Query put(db, *insert, "insert chunk");
      put.bind(api_key).bind(type).bind(entry.next_attempt_at).bind(entry.created_at).bind_blob(blob);
      if (auto r = put.run(); !r) return tl::unexpected(r.error());
      ++moved;
    }
  }
  if (auto r = db.exec("DROP TABLE records", "drop the records table"); !r) return tl::unexpected(r.error());
  return moved;
}

// What a migration did, told once it is committed.
struct MigrationReport {
  std::optional<std::uint64_t> records_moved;
};

Expected<void> to_version_1(Connection& db, MigrationReport& report) {
  auto created = db.exec(
      "CREATE TABLE IF NOT EXISTS chunks("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"  // AUTOINCREMENT: a chunk id (so a record id) is never reused
      "  api_key TEXT NOT NULL, type TEXT NOT NULL,"
      "  count INTEGER NOT NULL,"            // records in the chunk
      "  next_attempt_at INTEGER NOT NULL,"  // the earliest of its records'
      "  created_at INTEGER NOT NULL,"       // the oldest of its records'
      "  records BLOB NOT NULL);"            // last: reading the columns before it never reads its overflow pages
      // Covers both the lease scan (in order) and the ready-partition count without touching the table.
      "CREATE INDEX IF NOT EXISTS chunks_due ON chunks(api_key, type, next_attempt_at, id, count, created_at);"
      "CREATE TABLE IF NOT EXISTS dead_letters("
      "  id INTEGER PRIMARY KEY, api_key TEXT NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL,"
      "  attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, reason TEXT NOT NULL, dead_at INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS held_keys("
      "  api_key TEXT PRIMARY KEY, reason TEXT NOT NULL, held_at INTEGER NOT NULL);",
      "create tables");
  if (!created) return created;
  auto old_layout = has_table(db, "records");
  if (!old_layout) return tl::unexpected(old_layout.error());
  if (!*old_layout) return {};
  auto moved = move_record_rows_into_chunks(db);
  if (!moved) return tl::unexpected(moved.error());
  report.records_moved = *moved;
  return {};
}

// Events ingest could not transform, kept for replay. AUTOINCREMENT: ids only grow, so the oldest is the lowest
// id (the bound drops from there) and an id is never reused. No other index: reads page through in id order
// (--since and --source filter on the way), and every index would cost each rejected request a write.
Expected<void> to_version_2(Connection& db, MigrationReport&) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS rejected_events("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  source TEXT NOT NULL, route TEXT NOT NULL, reason TEXT NOT NULL,"
      "  rejected_at INTEGER NOT NULL,"
      "  event TEXT NOT NULL);",
      "create the rejected_events table");
}

// What Ometria listed as rejected after accepting pushes (GET /v2/push/_errors): one row per distinct entry and
// key (the digest of all its fields), the match to our push when one was found; bounded by the queue's options.
Expected<void> to_version_3(Connection& db, MigrationReport&) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS ometria_errors("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  api_key TEXT NOT NULL, digest TEXT NOT NULL,"
      "  message TEXT NOT NULL, path TEXT NOT NULL,"
      "  record_id TEXT, request_id TEXT, record_type TEXT, time_stamp TEXT,"  // NULL: the answer had none
      "  occurrences INTEGER NOT NULL,"
      "  first_seen_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, latest_new_at INTEGER NOT NULL,"
      "  matched_record_ids TEXT, matched_request_id TEXT, matched_type TEXT, matched_pushed_at INTEGER,"
      "  UNIQUE(api_key, digest));"
      "CREATE INDEX IF NOT EXISTS ometria_errors_seen ON ometria_errors(last_seen_at, id);"
      "CREATE INDEX IF NOT EXISTS ometria_errors_new ON ometria_errors(latest_new_at, id);",
      "create the ometria_errors table");
}

// Lanes (queue::Lane): each chunk names its lane, and the chunks_due index leads with (api key, type, lane) so a
// lease scan and the ready count read one lane. The column goes before the blob (a column after it would make
// every read of it walk the blob's overflow pages), so the table is rebuilt: same ids, every chunk live (all that
// was queued came from ingest), and the AUTOINCREMENT counter carried over, so that no record id is ever reused.
// lane_totals: records delivered and dead-lettered per (api key, type, lane), for `queue stats` and `import status`.
Expected<void> to_version_4(Connection& db, MigrationReport&) {
  std::int64_t next_id_floor = 0;
  {
    auto stmt = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'");
    if (!stmt) return tl::unexpected(stmt.error());
    Query q(db, *stmt, "read the chunk id counter");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (*row) next_id_floor = q.integer(0);
  }
  // A database whose version was lost (set back to 0 by hand) may have the lane already: kept, not reset.
  auto has_lane = has_column(db, "chunks", "lane");
  if (!has_lane) return tl::unexpected(has_lane.error());
  const std::string copy = std::string(
                               "INSERT INTO chunks_v4(id, api_key, type, lane, count, next_attempt_at, created_at, records)"
                               "  SELECT id, api_key, type, ") +
                           (*has_lane ? "lane" : "0") + ", count, next_attempt_at, created_at, records FROM chunks ORDER BY id;";
  if (auto r = db.exec(
          "CREATE TABLE chunks_v4("
          "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
          "  api_key TEXT NOT NULL, type TEXT NOT NULL,"
          "  lane INTEGER NOT NULL CHECK(lane IN (0, 1)),"  // queue::Lane: 0 live, 1 backfill
          "  count INTEGER NOT NULL,"
          "  next_attempt_at INTEGER NOT NULL,"
          "  created_at INTEGER NOT NULL,"
          "  records BLOB NOT NULL);",
          "create the chunks table with lanes");
      !r)
    return r;
  if (auto r = db.exec(copy.c_str(), "copy the chunks"); !r) return r;
  if (auto r = db.exec(
          "DROP TABLE chunks;"
          "ALTER TABLE chunks_v4 RENAME TO chunks;"
          "CREATE INDEX chunks_due ON chunks(api_key, type, lane, next_attempt_at, id, count, created_at);"
          "CREATE TABLE IF NOT EXISTS lane_totals("
          "  api_key TEXT NOT NULL, type TEXT NOT NULL, lane INTEGER NOT NULL,"
          "  delivered INTEGER NOT NULL, dead_lettered INTEGER NOT NULL,"
          "  PRIMARY KEY(api_key, type, lane)) WITHOUT ROWID;",
          "add lanes to the chunks");
      !r)
    return r;
  if (next_id_floor == 0) return {};
  // The copy left the counter at the highest id still stored (or none, when nothing was): set it back.
  if (auto r = db.exec("DELETE FROM sqlite_sequence WHERE name = 'chunks'", "reset the chunk id counter"); !r) return r;
  auto stmt = db.prepare("INSERT INTO sqlite_sequence(name, seq) VALUES('chunks', ?)");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db, *stmt, "carry the chunk id counter over");
  if (auto r = q.bind(next_id_floor).run(); !r) return tl::unexpected(r.error());
  return {};
}

// Imports (`ometria-transformer import`): each run, its input files as first seen, and one checkpoint per file and
// pass, written in the same transaction as the records it covers.
Expected<void> to_version_5(Connection& db, MigrationReport&) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS import_runs("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  run_key TEXT NOT NULL, source TEXT NOT NULL, arguments TEXT NOT NULL, state TEXT NOT NULL,"
      "  records INTEGER NOT NULL, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS import_runs_by_key ON import_runs(run_key, id);"
      "CREATE TABLE IF NOT EXISTS import_files("
      "  run_id INTEGER NOT NULL, file_index INTEGER NOT NULL,"
      "  path TEXT NOT NULL, size INTEGER NOT NULL, head_hash TEXT NOT NULL,"
      "  PRIMARY KEY(run_id, file_index));"
      "CREATE TABLE IF NOT EXISTS import_checkpoints("
      "  run_id INTEGER NOT NULL, file_index INTEGER NOT NULL, pass INTEGER NOT NULL,"
      "  offset INTEGER NOT NULL, line INTEGER NOT NULL, records INTEGER NOT NULL, done INTEGER NOT NULL,"
      "  updated_at INTEGER NOT NULL,"
      "  PRIMARY KEY(run_id, file_index, pass));",
      "create the import tables");
}

// The request log: one row per push to Ometria and what became of it (request_log_store.hpp). AUTOINCREMENT: ids
// only grow, so the newest are the highest ids and the bound drops from the lowest. No other index: every index
// would cost each push a write, and the operator's reads page through by id (filters applied on the way).
Expected<void> to_version_6(Connection& db, MigrationReport&) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS request_log("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  at INTEGER NOT NULL,"                                  // Unix ms: when the push ended
      "  source TEXT NOT NULL, key_fingerprint TEXT NOT NULL,"  // never the key itself
      "  type TEXT NOT NULL, lane TEXT NOT NULL, records INTEGER NOT NULL,"
      "  status INTEGER NOT NULL, failure TEXT NOT NULL,"       // status 0: no answer, failure says why
      "  request_id TEXT, accepted INTEGER, rejected INTEGER,"  // NULL: Ometria's answer had none
      "  duration_ms INTEGER NOT NULL);",
      "create the request_log table");
}

struct Migration {
  int to;  // the version the database is at once it has run
  Expected<void> (*run)(Connection& db, MigrationReport& report);
};

// In order; the last one's `to` is kSchemaVersion.
constexpr Migration kMigrations[] = {
    {1, &to_version_1},
    {2, &to_version_2},
    {3, &to_version_3},
    {4, &to_version_4},
    {5, &to_version_5},
    {6, &to_version_6},
};
static_assert(std::size(kMigrations) > 0 && kMigrations[std::size(kMigrations) - 1].to == kSchemaVersion);

Expected<void> run_migration(Connection& db, const Migration& migration) {
  if (auto r = db.exec("BEGIN IMMEDIATE", "begin migration"); !r) return r;
  MigrationReport report;
  auto done = migration.run(db, report);
  const std::string set_version = "PRAGMA user_version = " + std::to_string(migration.to);
  if (done) done = db.exec(set_version.c_str(), "set the schema version");
  if (done) done = db.exec("COMMIT", "commit migration");
  if (!done) {
    (void)db.exec("ROLLBACK", "roll back migration");
    return done;
  }
  if (report.records_moved) obs::emit(obs::QueueRecordsMigrated{*report.records_moved});
  return {};
}

}  // namespace

Expected<void> prepare_schema(Connection& db) {
  // journal_mode answers with the mode in force: a file system without shared memory may refuse WAL.
  {
    auto stmt = db.prepare("PRAGMA journal_mode=WAL");
    if (!stmt) return tl::unexpected(stmt.error());
    Query q(db, *stmt, "set WAL mode");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row || q.text(0) != "wal") return fail(errc::io, "queue: the database refused WAL mode", db.path().string());
  }
  auto version = read_version(db);
  if (!version) return tl::unexpected(version.error());
  if (*version > kSchemaVersion) {
    return fail(errc::io,
                "queue: the database has schema version " + std::to_string(*version) +
                    ", newer than this build knows (" + std::to_string(kSchemaVersion) + ")",
                db.path().string());
  }
  for (const auto& migration : kMigrations) {
    if (migration.to <= *version) continue;
    if (auto r = run_migration(db, migration); !r) return r;
  }
  return {};
}

}  // namespace omt::queue::sqlite
