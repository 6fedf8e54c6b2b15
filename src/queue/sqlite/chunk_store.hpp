// The chunks table, whose rows hold the waiting records, up to 100 of one (api key, type, lane) a row (record_chunk.hpp
// has the layout). Keeps each row's summary columns (count, earliest next attempt, oldest creation) in step
// with its entries: the covering index chunks_due serves the lease scan and the ready count from them.
// Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../record_chunk.hpp"
#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::sqlite {

// Whose records a chunk holds: the partition they are counted in.
struct ChunkOwner {
  std::string api_key;
  std::string type;
  Lane lane = Lane::live;
};

// The lane a chunks.lane value names (anything but backfill's number is live, the lane of every older chunk).
inline Lane lane_of_column(std::int64_t value) {
  return value == static_cast<std::int64_t>(Lane::backfill) ? Lane::backfill : Lane::live;
}

// Records waiting in each lane.
struct LaneCounts {
  std::uint64_t live = 0;
  std::uint64_t backfill = 0;
};

// One stored chunk, its entries pointing into its blob.
struct StoredChunk {
  chunk::ChunkId id = 0;
  std::string api_key;
  std::string type;
  Lane lane = Lane::live;
  std::string blob;
  std::vector<chunk::Entry> entries;
  std::optional<Error> damage;  // the blob cannot be decoded: entries is empty
};

class ChunkStore {
 public:
  // Prepares its statements; the tables must exist (prepare_schema).
  static Expected<ChunkStore> prepare(Connection& db);
  ChunkStore() = default;  // no statements: only for assigning a prepared one to

  // The chunk with this id, if stored, decoded, or with what is wrong with its blob.
  Expected<std::optional<StoredChunk>> read_any(chunk::ChunkId id);
  // The same, but a chunk that cannot be decoded is an error naming it.
  Expected<std::optional<StoredChunk>> read(chunk::ChunkId id);

  // Inserts a chunk of entries (slots as given); with an id, only if that id is free. The new chunk's id, or
  // nullopt when the id was taken.
  Expected<std::optional<chunk::ChunkId>> insert(std::string_view api_key, std::string_view type, Lane lane,
                                                 const std::vector<chunk::Entry>& entries,
                                                 std::optional<chunk::ChunkId> id = std::nullopt);
  // Stores what is left of a chunk: deleted when nothing is, else its entries and summary columns rewritten.
  Expected<void> rewrite(chunk::ChunkId id, const std::vector<chunk::Entry>& entries);
  // Puts a record back under its own id, in the live lane: into its chunk if that is still stored (other records
  // of it wait), else as a chunk of its own with that chunk's id; a new id only if that id is taken by another
  // partition.
  Expected<void> put_back(RecordId id, std::string_view api_key, std::string_view type, chunk::Entry entry);
  // Deletes the chunk if it holds exactly `count` records (so a caller holding that many of its ids holds all
  // of it, without reading it). Whose it was when it was deleted, else nullopt.
  Expected<std::optional<ChunkOwner>> remove_if_count(chunk::ChunkId id, std::uint64_t count);
  Expected<void> remove(chunk::ChunkId id, std::string_view what = "delete chunk");

  // Records in every chunk, per lane.
  Expected<LaneCounts> count_records();

  // The chunks of (api key, type, lane) with a record due by `now`, earliest next attempt first (then oldest id),
  // read from the covering index without touching the rows. The strings must outlive the scan.
  class DueScan {
   public:
    struct Row {
      chunk::ChunkId id = 0;
      std::uint64_t count = 0;
    };
    // The next chunk, or nullopt at the end.
    Expected<std::optional<Row>> next();

   private:
    friend class ChunkStore;
    DueScan(Connection& db, const Statement& stmt, std::string_view api_key, std::string_view type, Lane lane,
            UnixMillis now)
        : query_(db, stmt, "select due chunks") {
      query_.bind(api_key).bind(type).bind(static_cast<std::int64_t>(lane)).bind(now);
    }
    Query query_;
  };
  DueScan due(std::string_view api_key, std::string_view type, Lane lane, UnixMillis now);

 private:
  explicit ChunkStore(Connection& db) : db_(&db) {}
  Connection* db_ = nullptr;
  Statement insert_;
  Statement insert_with_id_;
  Statement select_due_;
  Statement select_;
  Statement update_;
  Statement delete_if_count_;
  Statement delete_;
  Statement count_records_;
};

}  // namespace omt::queue::sqlite
