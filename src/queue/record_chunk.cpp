// Entry layout, little-endian: slot (1 byte), attempts (4), next_attempt_at (8), created_at (8), json length (4),
// json bytes. Fixed-width fields keep decoding a bounds check and a memcpy per field.
#include "record_chunk.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <unordered_map>

namespace omt::queue::chunk {
namespace {

constexpr std::size_t kHeaderBytes = 1 + 4 + 8 + 8 + 4;

template <class T>
void put(std::string& out, T value) {
  unsigned char bytes[sizeof(T)];
  auto bits = static_cast<std::make_unsigned_t<T>>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<unsigned char>(bits >> (8 * i));
  out.append(reinterpret_cast<const char*>(bytes), sizeof(T));
}

template <class T>
T get(const char* at) {
  std::make_unsigned_t<T> bits = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bits |= static_cast<std::make_unsigned_t<T>>(static_cast<unsigned char>(at[i])) << (8 * i);
  }
  return static_cast<T>(bits);
}

}  // namespace

void append(std::string& blob, const Entry& entry) {
  blob.push_back(static_cast<char>(entry.slot));
  put<std::uint32_t>(blob, entry.attempts);
  put<std::int64_t>(blob, entry.next_attempt_at);
  put<std::int64_t>(blob, entry.created_at);
  put<std::uint32_t>(blob, static_cast<std::uint32_t>(entry.json.size()));
  blob.append(entry.json);
}

Expected<std::vector<Entry>> decode(std::string_view blob) {
  std::vector<Entry> entries;
  std::size_t at = 0;
  while (at < blob.size()) {
    if (blob.size() - at < kHeaderBytes) return fail(errc::io, "queue: a stored chunk is cut short (entry header)");
    const char* p = blob.data() + at;
    Entry e;
    e.slot = static_cast<unsigned char>(p[0]);
    e.attempts = get<std::uint32_t>(p + 1);
    e.next_attempt_at = get<std::int64_t>(p + 5);
    e.created_at = get<std::int64_t>(p + 13);
    const auto length = get<std::uint32_t>(p + 21);
    at += kHeaderBytes;
    if (blob.size() - at < length) return fail(errc::io, "queue: a stored chunk is cut short (record)");
    if (e.slot >= (1u << kSlotBits) || (!entries.empty() && e.slot <= entries.back().slot)) {
      return fail(errc::io, "queue: a stored chunk has its slots out of order");
    }
    e.json = blob.substr(at, length);
    at += length;
    entries.push_back(e);
  }
  return entries;
}

std::string encode(const std::vector<Entry>& entries) {
  std::size_t size = 0;
  for (const auto& e : entries) size += kHeaderBytes + e.json.size();
  std::string blob;
  blob.reserve(size);
  for (const auto& e : entries) append(blob, e);
  return blob;
}

Summary summarize(const std::vector<Entry>& entries) {
  Summary s{entries.front().next_attempt_at, entries.front().created_at};
  for (const auto& e : entries) {
    s.next_attempt_at = std::min(s.next_attempt_at, e.next_attempt_at);
    s.created_at = std::min(s.created_at, e.created_at);
  }
  return s;
}

std::string partition_name(std::string_view api_key, std::string_view type, Lane lane) {
  std::string name;
  name.reserve(type.size() + 2 + api_key.size());
  name.append(type);
  name.push_back('\n');
  name.append(api_key);
  if (lane == Lane::backfill) name.push_back('\n');
  return name;
}

std::vector<std::vector<std::size_t>> plan_chunks(const std::vector<NewRecord>& records) {
  std::vector<std::vector<std::size_t>> partitions;
  std::unordered_map<std::string, std::size_t> partition_of;
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto [it, added] = partition_of.try_emplace(partition_name(records[i].api_key, ometria::to_string(records[i].type), records[i].lane),
                                                partitions.size());
    if (added) partitions.emplace_back();
    partitions[it->second].push_back(i);
  }
  std::vector<std::vector<std::size_t>> chunks;
  for (const auto& members : partitions) {
    for (std::size_t from = 0; from < members.size(); from += kRecordsPerChunk) {
      const std::size_t to = std::min(members.size(), from + kRecordsPerChunk);
      chunks.emplace_back(members.begin() + static_cast<std::ptrdiff_t>(from), members.begin() + static_cast<std::ptrdiff_t>(to));
    }
  }
  return chunks;
}

std::map<ChunkId, std::vector<RecordId>> group_by_chunk(const std::vector<RecordId>& ids) {
  std::map<ChunkId, std::vector<RecordId>> groups;
  for (RecordId id : ids) {
    if (id < 0) continue;
    groups[chunk_of(id)].push_back(id);
  }
  for (auto& [chunk_id, group] : groups) {
    std::sort(group.begin(), group.end());
    group.erase(std::unique(group.begin(), group.end()), group.end());
  }
  return groups;
}

}  // namespace omt::queue::chunk
