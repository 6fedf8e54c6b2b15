// The import tables (schema version 5): import_runs, import_files (each run's inputs as first seen) and
// import_checkpoints (one row per run, file and pass, rewritten in the transaction of the records it covers).
// Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::sqlite {

class ImportStore {
 public:
  static Expected<ImportStore> prepare(Connection& db);
  ImportStore() = default;

  Expected<ImportRun> start(const NewImportRun& run, UnixMillis now);
  Expected<std::vector<ImportRun>> runs(const std::string& run_key);
  Expected<void> set_state(ImportRunId id, ImportState state, UnixMillis now);
  // The checkpoint's row written, and the run's record count grown by `records`.
  Expected<void> checkpoint(const ImportCheckpoint& checkpoint, std::uint64_t records, UnixMillis now);

 private:
  explicit ImportStore(Connection& db) : db_(&db) {}
  Connection* db_ = nullptr;
  Statement insert_run_, insert_file_, select_runs_, select_files_, select_checkpoints_, set_state_, upsert_checkpoint_,
      add_records_;
};

}  // namespace omt::queue::sqlite
