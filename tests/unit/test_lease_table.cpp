// The SQLite queue's in-memory lease table: which records are leased until when, counted per chunk and per
// (api key, type); expiry only with the time it is given.
#include <gtest/gtest.h>

#include <vector>

#include "queue/lease_table.hpp"

namespace {

using omt::queue::LeaseTable;
using omt::queue::RecordId;
namespace chunk = omt::queue::chunk;

constexpr omt::queue::UnixMillis kNow = 1'700'000'000'000;

TEST(LeaseTable, PartitionsGetStableIdsAndUnknownOnesAreNotFound) {
  LeaseTable table;
  const auto a = table.partition("key-a", "contact");
  const auto b = table.partition("key-a", "order");
  const auto c = table.partition("key-b", "contact");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(table.partition("key-a", "contact"), a);
  EXPECT_EQ(table.find_partition("key-b", "contact"), c);
  EXPECT_EQ(table.find_partition("key-b", "order"), std::nullopt);
  EXPECT_EQ(table.find_partition("contact", "key-a"), std::nullopt);  // key and type do not swap
}

TEST(LeaseTable, LeaseAndReleaseCountPerChunkAndPartition) {
  LeaseTable table;
  const auto p = table.partition("k", "contact");
  const auto q = table.partition("k", "order");
  table.lease(chunk::record_id(5, 0), p, kNow + 1000);
  table.lease(chunk::record_id(5, 1), p, kNow + 1000);
  table.lease(chunk::record_id(6, 0), q, kNow + 1000);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_TRUE(table.leased(chunk::record_id(5, 1)));
  EXPECT_FALSE(table.leased(chunk::record_id(5, 2)));
  EXPECT_EQ(table.leased_in_chunk(5), 2u);
  EXPECT_EQ(table.leased_in_chunk(6), 1u);
  EXPECT_EQ(table.leased_in_chunk(7), 0u);
  EXPECT_EQ(table.leased_per_partition(), (std::vector<std::uint64_t>{2, 1}));

  EXPECT_TRUE(table.release(chunk::record_id(5, 0)));
  EXPECT_FALSE(table.release(chunk::record_id(5, 0)));  // released already
  EXPECT_FALSE(table.release(chunk::record_id(9, 0)));  // never leased
  EXPECT_EQ(table.leased_in_chunk(5), 1u);
  EXPECT_EQ(table.leased_per_partition(), (std::vector<std::uint64_t>{1, 1}));
}

TEST(LeaseTable, LeasingARecordAgainMovesItsEndButCountsItOnce) {
  LeaseTable table;
  const auto p = table.partition("k", "contact");
  const RecordId id = chunk::record_id(1, 3);
  table.lease(id, p, kNow + 1000);
  table.lease(id, p, kNow + 5000);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.leased_in_chunk(1), 1u);
  table.expire(kNow + 1000);
  EXPECT_TRUE(table.leased(id));  // the later end holds
  table.expire(kNow + 5000);
  EXPECT_FALSE(table.leased(id));
  EXPECT_EQ(table.leased_in_chunk(1), 0u);
}

TEST(LeaseTable, LeasesEndOnlyWhenExpireIsGivenATimeAtOrPastTheirEnd) {
  LeaseTable table;
  const auto p = table.partition("k", "contact");
  table.lease(chunk::record_id(1, 0), p, kNow + 1000);
  table.lease(chunk::record_id(1, 1), p, kNow + 3000);
  table.lease(chunk::record_id(2, 0), p, kNow + 2000);

  table.expire(kNow + 999);
  EXPECT_EQ(table.size(), 3u);
  table.expire(kNow + 1000);  // an end equal to now has ended
  EXPECT_EQ(table.size(), 2u);
  EXPECT_FALSE(table.leased(chunk::record_id(1, 0)));
  EXPECT_EQ(table.leased_in_chunk(1), 1u);
  // A time before the earliest remaining end changes nothing; once past it the next one goes.
  table.expire(kNow + 1500);
  EXPECT_EQ(table.size(), 2u);
  table.expire(kNow + 2500);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.leased_in_chunk(2), 0u);
  EXPECT_TRUE(table.leased(chunk::record_id(1, 1)));
  EXPECT_EQ(table.leased_per_partition(), (std::vector<std::uint64_t>{1}));
}

TEST(LeaseTable, AReleasedLeaseDoesNotExpireLaterAndANewLeaseAfterExpiryIsWatched) {
  LeaseTable table;
  const auto p = table.partition("k", "contact");
  table.lease(chunk::record_id(1, 0), p, kNow + 1000);
  EXPECT_TRUE(table.release(chunk::record_id(1, 0)));
  table.expire(kNow + 1000);
  EXPECT_EQ(table.size(), 0u);
  // After a walk that left nothing, a new short lease must still be seen to end.
  table.lease(chunk::record_id(1, 1), p, kNow + 1500);
  table.expire(kNow + 1500);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.leased_in_chunk(1), 0u);
}

}  // namespace
