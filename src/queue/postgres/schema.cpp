// Migrations are history, as in the SQLite queue: each writes the layout of its version with its own SQL.
#include "schema.hpp"

#include <iterator>
#include <string>

namespace omt::queue::postgres {
namespace {

// One row per record. Until version 6 a lease was the pair leased_until / lease_owner: a record was free once
// leased_until <= now, so a lease outlived neither its time nor (see PostgresQueue::open) a restart of the
// instance that took it. Version 6 keeps those rules in a table of leases.
constexpr const char* kVersion1 =
    "CREATE TABLE records("
    "  id BIGSERIAL PRIMARY KEY,"  // a sequence: ids only grow and are never reused
    "  api_key TEXT NOT NULL, type TEXT NOT NULL,"
    "  lane SMALLINT NOT NULL DEFAULT 0,"  // queue::Lane: 0 live, 1 backfill
    "  json TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at BIGINT NOT NULL, created_at BIGINT NOT NULL,"  // Unix ms
    "  leased_until BIGINT NOT NULL DEFAULT 0, lease_owner TEXT);"
    "CREATE INDEX records_due ON records(api_key, type, next_attempt_at, id);"
    "CREATE TABLE dead_letters("
    "  id BIGINT PRIMARY KEY, api_key TEXT NOT NULL, type TEXT NOT NULL, lane SMALLINT NOT NULL DEFAULT 0,"
    "  json TEXT NOT NULL, attempts INTEGER NOT NULL, created_at BIGINT NOT NULL,"
    "  reason TEXT NOT NULL, dead_at BIGINT NOT NULL);"
    "CREATE TABLE held_keys(api_key TEXT PRIMARY KEY, reason TEXT NOT NULL, held_at BIGINT NOT NULL);"
    "CREATE TABLE rejected_events("
    "  id BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, route TEXT NOT NULL, reason TEXT NOT NULL,"
    "  rejected_at BIGINT NOT NULL, event TEXT NOT NULL);"
    "CREATE TABLE ometria_errors("
    "  id BIGSERIAL PRIMARY KEY, api_key TEXT NOT NULL, digest TEXT NOT NULL,"
    "  message TEXT NOT NULL, path TEXT NOT NULL,"
    "  record_id TEXT, request_id TEXT, record_type TEXT, time_stamp TEXT,"
    "  occurrences BIGINT NOT NULL,"
    "  first_seen_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL, latest_new_at BIGINT NOT NULL,"
    "  matched_record_ids TEXT, matched_request_id TEXT, matched_type TEXT, matched_pushed_at BIGINT,"
    "  UNIQUE(api_key, digest));"
    "CREATE INDEX ometria_errors_seen ON ometria_errors(last_seen_at, id);"
    "CREATE INDEX ometria_errors_new ON ometria_errors(latest_new_at, id);";

// Parity with the SQLite queue (its versions 4-6). Records kept their lane since version 1; the due index now
// leads with it, as a lease reads one lane. lane_totals: what left each (api key, type, lane), delivered or
// dead-lettered, updated in the statement that moves the records out (lane_store.hpp). The import tables
// (import_store.hpp) and the request log (request_log_store.hpp) as in SQLite; "offset" is a keyword here, so the
// checkpoint's column is read_offset. request_log ids come from a sequence: they only grow, and the bound drops
// from the lowest.
constexpr const char* kVersion2 =
    "CREATE INDEX records_due_by_lane ON records(api_key, type, lane, next_attempt_at, id);"
    "DROP INDEX records_due;"
    "CREATE TABLE lane_totals("
    "  api_key TEXT NOT NULL, type TEXT NOT NULL, lane SMALLINT NOT NULL,"
    "  delivered BIGINT NOT NULL, dead_lettered BIGINT NOT NULL,"
    "  PRIMARY KEY(api_key, type, lane));"
    "CREATE TABLE import_runs("
    "  id BIGSERIAL PRIMARY KEY,"
    "  run_key TEXT NOT NULL, source TEXT NOT NULL, arguments TEXT NOT NULL, state TEXT NOT NULL,"
    "  records BIGINT NOT NULL, started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE INDEX import_runs_by_key ON import_runs(run_key, id);"
    "CREATE TABLE import_files("
    "  run_id BIGINT NOT NULL REFERENCES import_runs(id), file_index INTEGER NOT NULL,"
    "  path TEXT NOT NULL, size BIGINT NOT NULL, head_hash TEXT NOT NULL,"
    "  PRIMARY KEY(run_id, file_index));"
    "CREATE TABLE import_checkpoints("
    "  run_id BIGINT NOT NULL REFERENCES import_runs(id), file_index INTEGER NOT NULL, pass INTEGER NOT NULL,"
    "  read_offset BIGINT NOT NULL, line BIGINT NOT NULL, records BIGINT NOT NULL, done BOOLEAN NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  PRIMARY KEY(run_id, file_index, pass));"
    "CREATE TABLE request_log("
    "  id BIGSERIAL PRIMARY KEY,"
    "  at BIGINT NOT NULL,"                                   // Unix ms: when the push ended
    "  source TEXT NOT NULL, key_fingerprint TEXT NOT NULL,"  // never the key itself
    "  type TEXT NOT NULL, lane TEXT NOT NULL, records BIGINT NOT NULL,"
    "  status INTEGER NOT NULL, failure TEXT NOT NULL,"       // status 0: no answer, failure says why
    "  request_id TEXT, accepted BIGINT, rejected BIGINT,"    // NULL: Ometria's answer had none
    "  duration_ms BIGINT NOT NULL);";
// Which instance delivers which API key (queue::KeyOwnership, key_owners.cpp): live instances with their
// heartbeat, and one claim per key that expires unless its instance renews it.
constexpr const char* kVersion3 =
    "CREATE TABLE delivery_instances(instance_id TEXT PRIMARY KEY, heartbeat_at BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL);"
    "CREATE TABLE key_owners(api_key TEXT PRIMARY KEY, instance_id TEXT NOT NULL, claimed_at BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL);";

// Throughput (docs/scaling.md, "Benchmark"). A record's json (3-4 KB for a typical event) is past PostgreSQL's
// 2 KB toast threshold: every insert paid for pglz and every lease for undoing it, and the compressed value went
// out of line all the same. EXTERNAL keeps it out of line uncompressed: the row itself stays narrow (a lease's
// UPDATE copies and logs ~100 bytes, not the json; the scans of the table read small rows), and nothing is
// compressed or decompressed. A lease reads a partition's records in id order, so the partition's index ends
// with the id: the lease reads its batch off the index instead of sorting every due row (next_attempt_at and
// leased_until are checked in the rows it visits).
constexpr const char* kVersion4 =
    "ALTER TABLE records ALTER COLUMN json SET STORAGE EXTERNAL;"
    "ALTER TABLE dead_letters ALTER COLUMN json SET STORAGE EXTERNAL;"
    "CREATE INDEX records_by_partition ON records(api_key, type, lane, id);"
    "DROP INDEX records_due_by_lane;";
// Throughput again: a lease's UPDATE of a full page could not stay on it, so each leased record got a new row
// version elsewhere and a new entry in both indexes, which every later lease and scan of the partition then read
// past. Half of each new page left free keeps a lease's new version beside the old (a HOT update, no new index
// entries). Measured in bench/load/pipeline.sh on PostgreSQL: 253,900 of 253,900 lease updates HOT, with the
// benchmark's records (about 1 KB of json, kept in the row) four to a page.
constexpr const char* kVersion5 = "ALTER TABLE records SET (fillfactor = 50);";
// Throughput once more: a lease wrote every record it took (a row lock, then a new row version, each logged),
// about 30 us a record, more than the insert. A lease is now one row of its own: the ids it took, until when, and
// whose. Records are written twice in their life (stored, deleted), so pages are filled again. The lease table
// is small (the pushes in flight) and churns with every push: vacuumed by count, not by share of its size.
constexpr const char* kVersion6 =
    "CREATE TABLE record_leases("
    "  api_key TEXT NOT NULL, type TEXT NOT NULL, lane SMALLINT NOT NULL,"
    "  record_ids BIGINT[] NOT NULL,"  // ascending, never empty
    // Bounds of record_ids as leased (a lease ended in part keeps them): an ack compares its ids element by
    // element only with the leases of its records' partitions whose bounds overlap them.
    "  first_id BIGINT NOT NULL, last_id BIGINT NOT NULL,"
    "  leased_until BIGINT NOT NULL, lease_owner TEXT NOT NULL)"
    "  WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);"
    "CREATE INDEX record_leases_by_partition ON record_leases(api_key, type, lane);"
    "ALTER TABLE records DROP COLUMN leased_until, DROP COLUMN lease_owner;"
    "ALTER TABLE records SET (fillfactor = 100);";
// Throughput: a lease and the ready scan start each partition at its floor (partition_floors.hpp), not at the
// first of its acked records' index entries.
constexpr const char* kVersion7 =
    "CREATE TABLE partition_floors(api_key TEXT NOT NULL, type TEXT NOT NULL, lane SMALLINT NOT NULL,"
    "  floor_id BIGINT NOT NULL, PRIMARY KEY(api_key, type, lane));";

struct Migration {
  int to;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, kVersion1},
    {2, kVersion2},
    {3, kVersion3},
    {4, kVersion4},
    {5, kVersion5},
    {6, kVersion6},
    {7, kVersion7},
};
static_assert(kMigrations[std::size(kMigrations) - 1].to == kSchemaVersion);

// Any constant, the same for every instance: only the queue's migrations take it.
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7305481275112020)";

}  // namespace

Expected<int> schema_version(Connection& db) {
  auto table = db.exec("SELECT to_regclass('schema_version') IS NOT NULL", "look for the schema_version table");
  if (!table) return tl::unexpected(table.error());
  if (table->text(0, 0) != "t") return 0;
  auto version = db.exec("SELECT COALESCE(MAX(version), 0) FROM schema_version", "read the schema version");
  if (!version) return tl::unexpected(version.error());
  return static_cast<int>(version->integer(0, 0));
}

Expected<void> prepare_schema(Connection& db) {
  if (auto r = db.run("BEGIN", "begin migration"); !r) return r;
  auto migrate = [&]() -> Expected<void> {
    if (auto r = db.exec(kLock, "lock for migration"); !r) return tl::unexpected(r.error());
    if (auto r = db.run("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", "create schema_version");
        !r)
      return r;
    auto version = schema_version(db);
    if (!version) return tl::unexpected(version.error());
    if (*version > kSchemaVersion) {
      return fail(errc::io,
                  "queue: postgres: the database has schema version " + std::to_string(*version) +
                      ", newer than this build knows (" + std::to_string(kSchemaVersion) + ")",
                  db.where());
    }
    for (const auto& migration : kMigrations) {
      if (migration.to <= *version) continue;
      if (auto r = db.run(migration.sql, "migrate to schema version " + std::to_string(migration.to)); !r) return r;
      Params p;
      p.add(std::int64_t{migration.to});
      if (auto r = db.exec("DELETE FROM schema_version", "set the schema version"); !r) return tl::unexpected(r.error());
      if (auto r = db.exec("INSERT INTO schema_version(version) VALUES($1)", p, "set the schema version"); !r)
        return tl::unexpected(r.error());
    }
    return db.run("COMMIT", "commit migration");
  };
  auto done = migrate();
  if (!done && !db.broken()) (void)db.run("ROLLBACK", "roll back migration");
  return done;
}

}  // namespace omt::queue::postgres
