// Which records this process has leased, until when, and how many per chunk and per (api key, type, lane). Pure: no
// SQLite, no clock (every call that needs the time is given it), no locking (the SQLite queue uses it from its
// writer thread only). Leases live in memory only: after a restart every record not acked is leased again.
// A lease that has run out still counts until expire() is called with a time at or past its end.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "omt/queue/queue.hpp"
#include "record_chunk.hpp"

namespace omt::queue {

class LeaseTable {
 public:
  using PartitionId = std::uint32_t;

  // The id of (api key, type, lane), given out the first time it is asked for and the same for the table's life.
  PartitionId partition(std::string_view api_key, std::string_view type, Lane lane = Lane::live);
  // nullopt when partition() was never asked for it (so none of its records was ever leased).
  std::optional<PartitionId> find_partition(std::string_view api_key, std::string_view type,
                                            Lane lane = Lane::live) const;

  // Leases a record of that partition until `until` (a record already leased gets the new end).
  void lease(RecordId id, PartitionId partition, UnixMillis until);
  // Ends a record's lease. True when the record was leased.
  bool release(RecordId id);
  // Ends the leases that ran out by `now` (their end <= now): their records are due again. Leases last
  // minutes, so the walk over them (at most the records in flight) is taken only once the earliest may have ended.
  void expire(UnixMillis now);

  bool leased(RecordId id) const { return leases_.contains(id); }
  // Live leases on records of this chunk.
  std::uint32_t leased_in_chunk(chunk::ChunkId chunk) const;
  // Live leases per partition, indexed by PartitionId (every partition given out so far has its place).
  std::vector<std::uint64_t> leased_per_partition() const;
  std::size_t size() const { return leases_.size(); }

 private:
  struct Lease {
    UnixMillis until = 0;
    PartitionId partition = 0;
  };
  void forget_one_in_chunk(RecordId id);

  std::unordered_map<RecordId, Lease> leases_;
  std::unordered_map<chunk::ChunkId, std::uint32_t> leased_in_chunk_;  // live leases per chunk
  UnixMillis earliest_end_ = std::numeric_limits<UnixMillis>::max();   // no lease ends sooner
  std::unordered_map<std::string, PartitionId> partition_ids_;
  std::size_t partitions_ = 0;
};

}  // namespace omt::queue
