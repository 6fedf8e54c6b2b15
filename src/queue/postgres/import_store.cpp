#include "import_store.hpp"

#include <map>

namespace omt::queue::postgres {

namespace {
tl::unexpected<Error> no_run(ImportRunId id) { return fail(errc::not_found, "queue: no import run " + std::to_string(id)); }
}  // namespace

Expected<ImportRun> start_import_run(Connection& db, const NewImportRun& run, UnixMillis now) {
  Params p;
  p.add(run.run_key).add(run.source).add(run.arguments).add(to_string(ImportState::running)).add(now);
  auto inserted = db.exec(
      "INSERT INTO import_runs(run_key, source, arguments, state, records, started_at, updated_at)"
      " VALUES($1, $2, $3, $4, 0, $5, $5) RETURNING id",
      p, "start an import run");
  if (!inserted) return tl::unexpected(inserted.error());
  ImportRun stored;
  stored.id = inserted->integer(0, 0);
  stored.run_key = run.run_key;
  stored.source = run.source;
  stored.arguments = run.arguments;
  stored.started_at = stored.updated_at = now;
  stored.files = run.files;
  if (run.files.empty()) return stored;
  std::vector<std::string> paths, hashes;
  std::vector<std::int64_t> sizes;
  for (const auto& f : run.files) {
    paths.push_back(f.path);
    sizes.push_back(static_cast<std::int64_t>(f.size));
    hashes.push_back(f.head_hash);
  }
  Params files;
  files.add(stored.id).add_array(paths).add_array(sizes).add_array(hashes);
  auto added = db.exec(
      "INSERT INTO import_files(run_id, file_index, path, size, head_hash)"
      " SELECT $1, t.n - 1, t.path, t.size, t.head_hash"
      " FROM unnest($2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS t(path, size, head_hash, n)",
      files, "store the import's files");
  if (!added) return tl::unexpected(added.error());
  return stored;
}

Expected<std::vector<ImportRun>> import_runs(Connection& db, const std::string& run_key) {
  Params p;
  p.add(run_key);
  auto rows = db.exec(
      "SELECT id, run_key, source, arguments, state, records, started_at, updated_at FROM import_runs"
      " WHERE $1 = '' OR run_key = $1 ORDER BY id",
      p, "list import runs");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<ImportRun> runs;
  std::map<ImportRunId, std::size_t> at;
  std::vector<std::int64_t> ids;
  for (int r = 0; r < rows->rows(); ++r) {
    ImportRun run;
    run.id = rows->integer(r, 0);
    run.run_key = rows->text(r, 1);
    run.source = rows->text(r, 2);
    run.arguments = rows->text(r, 3);
    run.state = import_state_from(rows->text(r, 4)).value_or(ImportState::interrupted);
    run.records = static_cast<std::uint64_t>(rows->integer(r, 5));
    run.started_at = rows->integer(r, 6);
    run.updated_at = rows->integer(r, 7);
    at.emplace(run.id, runs.size());
    ids.push_back(run.id);
    runs.push_back(std::move(run));
  }
  if (runs.empty()) return runs;
  Params of;
  of.add_array(ids);
  auto files = db.exec(
      "SELECT run_id, path, size, head_hash FROM import_files WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, file_index",
      of, "list import files");
  if (!files) return tl::unexpected(files.error());
  for (int r = 0; r < files->rows(); ++r) {
    runs[at.at(files->integer(r, 0))].files.push_back(
        ImportFile{files->text(r, 1), static_cast<std::uint64_t>(files->integer(r, 2)), files->text(r, 3)});
  }
  auto checkpoints = db.exec(
      "SELECT run_id, file_index, pass, read_offset, line, records, done, updated_at FROM import_checkpoints"
      " WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, file_index, pass",
      of, "list import checkpoints");
  if (!checkpoints) return tl::unexpected(checkpoints.error());
  for (int r = 0; r < checkpoints->rows(); ++r) {
    ImportCheckpoint c;
    c.run_id = checkpoints->integer(r, 0);
    c.file_index = static_cast<std::uint32_t>(checkpoints->integer(r, 1));
    c.pass = static_cast<std::uint32_t>(checkpoints->integer(r, 2));
    c.offset = static_cast<std::uint64_t>(checkpoints->integer(r, 3));
    c.line = static_cast<std::uint64_t>(checkpoints->integer(r, 4));
    c.records = static_cast<std::uint64_t>(checkpoints->integer(r, 5));
    c.done = checkpoints->text(r, 6) == "t";
    c.updated_at = checkpoints->integer(r, 7);
    runs[at.at(c.run_id)].checkpoints.push_back(c);
  }
  return runs;
}

Expected<void> set_import_run_state(Connection& db, ImportRunId id, ImportState state, UnixMillis now) {
  Params p;
  p.add(to_string(state)).add(now).add(id);
  auto changed = db.exec("UPDATE import_runs SET state = $1, updated_at = $2 WHERE id = $3", p, "set an import run's state");
  if (!changed) return tl::unexpected(changed.error());
  if (changed->changed() == 0) return no_run(id);
  return {};
}

Expected<void> store_import_checkpoint(Connection& db, const ImportCheckpoint& c, std::uint64_t records, UnixMillis now) {
  // The run first: a checkpoint of no run is refused before anything is written (the foreign key would say less).
  Params count;
  count.add(static_cast<std::int64_t>(records)).add(now).add(c.run_id);
  auto changed = db.exec("UPDATE import_runs SET records = records + $1, updated_at = $2 WHERE id = $3", count,
                         "count an import run's records");
  if (!changed) return tl::unexpected(changed.error());
  if (changed->changed() == 0) return no_run(c.run_id);
  Params p;
  p.add(c.run_id).add(static_cast<std::int64_t>(c.file_index)).add(static_cast<std::int64_t>(c.pass));
  p.add(static_cast<std::int64_t>(c.offset)).add(static_cast<std::int64_t>(c.line));
  p.add(static_cast<std::int64_t>(c.records)).add(c.done ? "true" : "false").add(now);
  auto stored = db.exec(
      "INSERT INTO import_checkpoints(run_id, file_index, pass, read_offset, line, records, done, updated_at)"
      " VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id, file_index, pass) DO UPDATE SET"
      " read_offset = EXCLUDED.read_offset, line = EXCLUDED.line, records = EXCLUDED.records, done = EXCLUDED.done,"
      " updated_at = EXCLUDED.updated_at",
      p, "store an import checkpoint");
  if (!stored) return tl::unexpected(stored.error());
  return {};
}

}  // namespace omt::queue::postgres
