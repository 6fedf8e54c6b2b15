// How the SQLite queue packs records: the records of one enqueue that share an (api key, type) are stored as
// one row, a "chunk" of up to kRecordsPerChunk records, so that storing, leasing and deleting a push's worth of
// records costs a few B-tree operations instead of a hundred. A record keeps its own id (chunk id and slot), its
// own attempts and its own next attempt time, so every queue operation still works record by record.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::chunk {

using ChunkId = std::int64_t;
using queue::RecordId;

inline constexpr std::size_t kRecordsPerChunk = ometria::records_per_push;  // a chunk is at most one push
inline constexpr int kSlotBits = 7;                   // 128 slots > kRecordsPerChunk

constexpr RecordId record_id(ChunkId chunk, unsigned slot) { return (chunk << kSlotBits) | static_cast<RecordId>(slot); }
constexpr ChunkId chunk_of(RecordId id) { return id >> kSlotBits; }
constexpr unsigned slot_of(RecordId id) { return static_cast<unsigned>(id & ((RecordId{1} << kSlotBits) - 1)); }

struct Entry {
  unsigned slot = 0;
  std::uint32_t attempts = 0;
  std::int64_t next_attempt_at = 0;  // Unix ms
  std::int64_t created_at = 0;       // Unix ms
  std::string_view json;             // points into the blob it was decoded from
};

// Appends one entry; entries must be appended in increasing slot order.
void append(std::string& blob, const Entry& entry);

// The entries of a blob, in slot order. A blob that is cut short or out of order is reported (never read past).
Expected<std::vector<Entry>> decode(std::string_view blob);

// A blob of the given entries (slot order kept).
std::string encode(const std::vector<Entry>& entries);

// A chunk row's summary columns: the earliest next attempt and the oldest creation of its entries (not empty).
struct Summary {
  std::int64_t next_attempt_at = 0;
  std::int64_t created_at = 0;
};
Summary summarize(const std::vector<Entry>& entries);

// One string for an (api key, type, lane), as a hash key: the type, a newline (which no type name holds), the
// key; a backfill partition's then ends in a second newline (a key in the queue never holds one).
std::string partition_name(std::string_view api_key, std::string_view type, Lane lane = Lane::live);

// How one enqueue's records are cut into chunks: those of each (api key, type, lane) in the order given, the
// partitions in the order they first appear, at most kRecordsPerChunk a chunk. Each chunk lists the indexes of
// its records in `records`; a record's slot is its position in that list.
std::vector<std::vector<std::size_t>> plan_chunks(const std::vector<NewRecord>& records);

// Record ids grouped by chunk, each group ascending and without repeats; negative ids (never handed out) dropped.
std::map<ChunkId, std::vector<RecordId>> group_by_chunk(const std::vector<RecordId>& ids);

}  // namespace omt::queue::chunk
