// The durable queue's events: a database moved to a newer layout, a damaged chunk set aside, a transaction
// that failed, a completion callback that threw, and rejected events replayed (dead-letter replay --events). One struct per outcome, one emit overload each
// (obs/event.hpp has the rules). The queue bumps no counter of its own (its depth is a gauge the service reads).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace omt::obs {

// A database in the old one-row-per-record layout was moved into chunks on open.
struct QueueRecordsMigrated {
  std::uint64_t records = 0;
};
// A chunk that cannot be decoded went to the dead-letter store so the rest of its partition can flow.
struct QueueChunkQuarantined {
  std::string_view api_key;  // written as its fingerprint
  std::string_view type;
  std::string_view reason;   // the queue's own words ("damaged chunk of N records: ..."), no user data
};
// A transaction of the group commit failed: every operation in it was told so, nothing of it was stored.
struct QueueTransactionFailed {
  std::string_view error;  // the queue's message, naming the step and SQLite's own words
};
// Rolling a failed transaction back failed too.
struct QueueRollbackFailed {
  std::string_view error;
};
// An operation's completion callback threw; the writer carries on with the others.
struct QueueCallbackThrew {
  std::optional<std::string_view> what;  // nullopt: not a std::exception; may carry user data (redacted)
};

// `dead-letter replay --events` transformed stored rejected events again (logged by the CLI, on stderr).
struct QueueRejectedEventsReplayed {
  std::uint64_t enqueued = 0;        // became records in the queue
  std::uint64_t still_rejected = 0;  // failed again (reason updated)
  std::uint64_t skipped = 0;         // now skipped (a call Ometria has no record for): removed
  std::uint64_t unknown_source = 0;  // their source is no longer configured: kept as they were
  std::uint64_t gone = 0;            // no longer stored when the replay was applied
};

void emit(const QueueRecordsMigrated& event);
void emit(const QueueRejectedEventsReplayed& event);
void emit(const QueueChunkQuarantined& event);
void emit(const QueueTransactionFailed& event);
void emit(const QueueRollbackFailed& event);
void emit(const QueueCallbackThrew& event);

}  // namespace omt::obs
