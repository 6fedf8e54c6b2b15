// How the SQLite queue packs records: the records of one enqueue that share an (api key, type) are stored as
// one row, a "chunk" of up to kRecordsPerChunk records, so that storing, leasing and deleting a push's worth of
// records costs a few B-tree operations instead of a hundred. A record keeps its own id (chunk id and slot), its
// own attempts and its own next attempt time, so every queue operation still works record by record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"

namespace omt::queue::chunk {

using ChunkId = std::int64_t;
using RecordId = std::int64_t;

inline constexpr std::size_t kRecordsPerChunk = 100;  // Ometria's most records per push
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

}  // namespace omt::queue::chunk
