// Partition floors (schema version 7): per (api key, type, lane), an id below which the partition holds no record.
// An ack deletes a partition's oldest records, and their entries stay in records_by_partition until a vacuum: a
// lease and the ready scan read a partition in id order from its start, so each walked past every record acked
// since (seen with auto_explain: 318 buffers a lease at the start of a 15 s load, 4,538 at its end). With a floor they start
// at it.
//
// A floor must never pass a record that will still appear: a transaction may hold an id from the sequence and
// commit later. So a floor is raised in two steps (partition_floor_step apart, 250 ms by default): first the
// sequence's last id S and the transactions open then; then, once all of those have ended (every transaction that
// could hold an id up to S), the floor becomes the lowest of the partition's records from its old floor on, or S if
// it has none. Ids below a floor come back only from a dead letter's replay, a rekey (a held key's old records under
// a key that moved on) and a migration, which forget the floors first. A sequence set back drops the mark.
// Statements run in READ COMMITTED (in_transaction begins so): each reads what committed before it started.
// Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"
#include "upkeep.hpp"

namespace omt::queue::postgres {

// SQL: the floor of the partition (api_key, type, lane), given as SQL expressions; 0 if it has none.
std::string floor_of(const std::string& api_key, const std::string& type, const std::string& lane);

// Removes every floor (they rise again in two steps). Before inserting records under ids the sequence handed out
// long ago, in the same transaction.
Expected<void> forget_floors(Connection& db);

struct FloorPartition {
  std::string api_key;
  std::string type;  // as stored
  std::int64_t lane = 0;
};

// The two steps, for one connection's thread.
class FloorRaiser {
 public:
  explicit FloorRaiser(std::chrono::milliseconds step_every) : cadence(step_every) {}
  Cadence cadence;  // how often step() runs
  // One step: raises the floors of `partitions` (the ready scan's) and of those that have one, if the last mark is
  // safe to use, then takes a new mark. True if it raised them. A mark stays safe however old, as long as the
  // sequence only grows (settled() checks): a step may wait.
  Expected<bool> step(Connection& db, const std::vector<FloorPartition>& partitions);

 private:
  struct Mark {
    std::int64_t last_id = 0;        // the sequence's last id when marked
    std::string open_transactions;   // the virtual ids of the transactions open after reading it (text[] literal)
  };
  // The sequence's last id, or none if a mark cannot be trusted (a sequence with a cache).
  static Expected<std::optional<std::int64_t>> last_id(Connection& db);
  static Expected<std::optional<Mark>> mark(Connection& db);
  // Whether the mark may be used now: the floors' lock taken, the sequence not set back, the mark's transactions
  // ended and none prepared.
  Expected<bool> settled(Connection& db);
  std::optional<Mark> mark_;
};

}  // namespace omt::queue::postgres
