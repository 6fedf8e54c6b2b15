// The dead_letters table: records that will not be pushed again unless replayed, each with its reason, kept
// under the id it had in the queue. Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::sqlite {

// One row as stored (the type as text: a row's type is checked by whoever turns it into a record).
struct DeadRow {
  RecordId id = 0;
  std::string api_key;
  std::string type;
  std::string json;
  std::int64_t attempts = 0;
  UnixMillis created_at = 0;
  std::string reason;
  UnixMillis dead_at = 0;
};

class DeadLetterStore {
 public:
  // Prepares its statements; the tables must exist (prepare_schema).
  static Expected<DeadLetterStore> prepare(Connection& db);
  DeadLetterStore() = default;  // no statements: only for assigning a prepared one to

  // Stores the row, replacing one with the same id.
  Expected<void> insert(const DeadRow& row, std::string_view what = "store dead letter");
  // The ids a selection names: its own, or the oldest up to its limit.
  Expected<std::vector<RecordId>> select_ids(const DeadLetterSelection& which);
  Expected<std::optional<DeadRow>> read(RecordId id);
  // How many rows were deleted (0 or 1).
  Expected<std::size_t> remove(RecordId id, std::string_view what);
  Expected<std::uint64_t> count();

 private:
  explicit DeadLetterStore(Connection& db) : db_(&db) {}
  Connection* db_ = nullptr;
  Statement insert_;
  Statement select_ids_;
  Statement select_;
  Statement delete_;
  Statement count_;
};

}  // namespace omt::queue::sqlite
