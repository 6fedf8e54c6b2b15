#include "import_store.hpp"

namespace omt::queue::sqlite {

Expected<ImportStore> ImportStore::prepare(Connection& db) {
  ImportStore store(db);
  auto prepared = db.prepare_each({
      {&store.insert_run_,
       "INSERT INTO import_runs(run_key, source, arguments, state, records, started_at, updated_at) VALUES(?, ?, ?, ?, 0, ?, ?)"},
      {&store.insert_file_, "INSERT INTO import_files(run_id, file_index, path, size, head_hash) VALUES(?, ?, ?, ?, ?)"},
      {&store.select_runs_,
       "SELECT id, run_key, source, arguments, state, records, started_at, updated_at FROM import_runs"
       " WHERE ? = '' OR run_key = ? ORDER BY id"},
      {&store.select_files_, "SELECT path, size, head_hash FROM import_files WHERE run_id = ? ORDER BY file_index"},
      {&store.select_checkpoints_,
       "SELECT file_index, pass, offset, line, records, done, updated_at FROM import_checkpoints WHERE run_id = ?"
       " ORDER BY file_index, pass"},
      {&store.set_state_, "UPDATE import_runs SET state = ?, updated_at = ? WHERE id = ?"},
      {&store.upsert_checkpoint_,
       "INSERT INTO import_checkpoints(run_id, file_index, pass, offset, line, records, done, updated_at)"
       " VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, file_index, pass) DO UPDATE SET"
       " offset = excluded.offset, line = excluded.line, records = excluded.records, done = excluded.done,"
       " updated_at = excluded.updated_at"},
      {&store.add_records_, "UPDATE import_runs SET records = records + ?, updated_at = ? WHERE id = ?"},
  });
  if (!prepared) return tl::unexpected(prepared.error());
  return store;
}

Expected<ImportRun> ImportStore::start(const NewImportRun& run, UnixMillis now) {
  {
    Query q(*db_, insert_run_, "start an import run");
    q.bind(run.run_key).bind(run.source).bind(run.arguments).bind(to_string(ImportState::running)).bind(now).bind(now);
    if (auto r = q.run(); !r) return tl::unexpected(r.error());
  }
  ImportRun stored;
  stored.id = db_->last_insert_rowid();
  stored.run_key = run.run_key;
  stored.source = run.source;
  stored.arguments = run.arguments;
  stored.started_at = stored.updated_at = now;
  stored.files = run.files;
  for (std::size_t i = 0; i < run.files.size(); ++i) {
    const auto& f = run.files[i];
    Query q(*db_, insert_file_, "store an import file");
    q.bind(stored.id).bind(static_cast<std::int64_t>(i)).bind(f.path).bind(static_cast<std::int64_t>(f.size)).bind(f.head_hash);
    if (auto r = q.run(); !r) return tl::unexpected(r.error());
  }
  return stored;
}

Expected<std::vector<ImportRun>> ImportStore::runs(const std::string& run_key) {
  std::vector<ImportRun> runs;
  {
    Query q(*db_, select_runs_, "list import runs");
    q.bind(run_key).bind(run_key);
    for (;;) {
      auto row = q.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      ImportRun r;
      r.id = q.integer(0);
      r.run_key = q.text(1);
      r.source = q.text(2);
      r.arguments = q.text(3);
      r.state = import_state_from(q.text(4)).value_or(ImportState::interrupted);
      r.records = static_cast<std::uint64_t>(q.integer(5));
      r.started_at = q.integer(6);
      r.updated_at = q.integer(7);
      runs.push_back(std::move(r));
    }
  }
  for (auto& r : runs) {
    {
      Query q(*db_, select_files_, "list import files");
      q.bind(r.id);
      for (;;) {
        auto row = q.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        r.files.push_back(ImportFile{q.text(0), static_cast<std::uint64_t>(q.integer(1)), q.text(2)});
      }
    }
    Query q(*db_, select_checkpoints_, "list import checkpoints");
    q.bind(r.id);
    for (;;) {
      auto row = q.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      ImportCheckpoint c;
      c.run_id = r.id;
      c.file_index = static_cast<std::uint32_t>(q.integer(0));
      c.pass = static_cast<std::uint32_t>(q.integer(1));
      c.offset = static_cast<std::uint64_t>(q.integer(2));
      c.line = static_cast<std::uint64_t>(q.integer(3));
      c.records = static_cast<std::uint64_t>(q.integer(4));
      c.done = q.integer(5) != 0;
      c.updated_at = q.integer(6);
      r.checkpoints.push_back(c);
    }
  }
  return runs;
}

Expected<void> ImportStore::set_state(ImportRunId id, ImportState state, UnixMillis now) {
  Query q(*db_, set_state_, "set an import run's state");
  auto changed = q.bind(to_string(state)).bind(now).bind(id).run();
  if (!changed) return tl::unexpected(changed.error());
  if (*changed == 0) return fail(errc::not_found, "queue: no import run " + std::to_string(id));
  return {};
}

Expected<void> ImportStore::checkpoint(const ImportCheckpoint& c, std::uint64_t records, UnixMillis now) {
  {
    Query q(*db_, upsert_checkpoint_, "store an import checkpoint");
    q.bind(c.run_id).bind(static_cast<std::int64_t>(c.file_index)).bind(static_cast<std::int64_t>(c.pass));
    q.bind(static_cast<std::int64_t>(c.offset)).bind(static_cast<std::int64_t>(c.line));
    q.bind(static_cast<std::int64_t>(c.records)).bind(std::int64_t{c.done ? 1 : 0}).bind(now);
    if (auto r = q.run(); !r) return tl::unexpected(r.error());
  }
  Query q(*db_, add_records_, "count an import run's records");
  auto changed = q.bind(static_cast<std::int64_t>(records)).bind(now).bind(c.run_id).run();
  if (!changed) return tl::unexpected(changed.error());
  if (*changed == 0) return fail(errc::not_found, "queue: no import run " + std::to_string(c.run_id));
  return {};
}

}  // namespace omt::queue::sqlite
