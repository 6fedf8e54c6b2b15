// The PostgreSQL queue's import tables (schema version 2), as the SQLite queue's: import_runs, import_files (each
// run's inputs as first seen) and import_checkpoints (one row per run, file and pass, rewritten in the transaction
// of the records it covers). Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::postgres {

Expected<ImportRun> start_import_run(Connection& db, const NewImportRun& run, UnixMillis now);
// The runs with this key (every run when empty), oldest first, with their files and checkpoints.
Expected<std::vector<ImportRun>> import_runs(Connection& db, const std::string& run_key);
Expected<void> set_import_run_state(Connection& db, ImportRunId id, ImportState state, UnixMillis now);
// The checkpoint's row written, and the run's record count grown by `records`.
Expected<void> store_import_checkpoint(Connection& db, const ImportCheckpoint& checkpoint, std::uint64_t records,
                                       UnixMillis now);

}  // namespace omt::queue::postgres
