#include "lease_table.hpp"

#include <algorithm>

namespace omt::queue {

LeaseTable::PartitionId LeaseTable::partition(std::string_view api_key, std::string_view type, Lane lane) {
  auto [it, added] = partition_ids_.try_emplace(chunk::partition_name(api_key, type, lane), static_cast<PartitionId>(partitions_));
  if (added) ++partitions_;
  return it->second;
}

std::optional<LeaseTable::PartitionId> LeaseTable::find_partition(std::string_view api_key, std::string_view type,
                                                                  Lane lane) const {
  auto it = partition_ids_.find(chunk::partition_name(api_key, type, lane));
  if (it == partition_ids_.end()) return std::nullopt;
  return it->second;
}

void LeaseTable::lease(RecordId id, PartitionId partition, UnixMillis until) {
  if (leases_.insert_or_assign(id, Lease{until, partition}).second) ++leased_in_chunk_[chunk::chunk_of(id)];
  earliest_end_ = std::min(earliest_end_, until);
}

void LeaseTable::forget_one_in_chunk(RecordId id) {
  auto it = leased_in_chunk_.find(chunk::chunk_of(id));
  if (it != leased_in_chunk_.end() && --it->second == 0) leased_in_chunk_.erase(it);
}

bool LeaseTable::release(RecordId id) {
  if (leases_.erase(id) == 0) return false;
  forget_one_in_chunk(id);
  return true;
}

void LeaseTable::expire(UnixMillis now) {
  if (now < earliest_end_) return;
  earliest_end_ = std::numeric_limits<UnixMillis>::max();
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.until > now) {
      earliest_end_ = std::min(earliest_end_, it->second.until);
      ++it;
      continue;
    }
    forget_one_in_chunk(it->first);
    it = leases_.erase(it);
  }
}

std::uint32_t LeaseTable::leased_in_chunk(chunk::ChunkId chunk) const {
  auto it = leased_in_chunk_.find(chunk);
  return it == leased_in_chunk_.end() ? 0 : it->second;
}

std::vector<std::uint64_t> LeaseTable::leased_per_partition() const {
  std::vector<std::uint64_t> leased(partitions_, 0);
  for (const auto& [id, lease] : leases_) ++leased[lease.partition];
  return leased;
}

}  // namespace omt::queue
