// How the SQLite queue packs records into chunk rows: record ids from chunk and slot, the blob codec (which
// never reads past a damaged blob), the summary columns, grouping ids by chunk and cutting an enqueue into chunks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue/record_chunk.hpp"

namespace {

namespace chunk = omt::queue::chunk;
using omt::queue::NewRecord;
using omt::queue::RecordId;
using omt::queue::RecordType;

TEST(RecordChunk, RecordIdsCarryTheirChunkAndSlot) {
  const RecordId id = chunk::record_id(12345, 99);
  EXPECT_EQ(chunk::chunk_of(id), 12345);
  EXPECT_EQ(chunk::slot_of(id), 99u);
  EXPECT_EQ(chunk::record_id(1, 0), 128);
  static_assert(chunk::kRecordsPerChunk < (1u << chunk::kSlotBits));
}

TEST(RecordChunk, EntriesSurviveEncodeAndDecode) {
  const std::string big(70'000, 'x');  // longer than 16 bits of length
  const std::vector<chunk::Entry> entries{
      {0, 0, 1'700'000'000'000, 1'699'999'999'000, R"({"id":"a"})"},
      {3, 7, -1, 0, ""},
      {127, 4'000'000'000u, 42, 43, big},
  };
  const std::string blob = chunk::encode(entries);
  auto decoded = chunk::decode(blob);
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->size(), 3u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ((*decoded)[i].slot, entries[i].slot) << i;
    EXPECT_EQ((*decoded)[i].attempts, entries[i].attempts) << i;
    EXPECT_EQ((*decoded)[i].next_attempt_at, entries[i].next_attempt_at) << i;
    EXPECT_EQ((*decoded)[i].created_at, entries[i].created_at) << i;
    EXPECT_EQ((*decoded)[i].json, entries[i].json) << i;
  }
  std::string appended;
  for (const auto& e : entries) chunk::append(appended, e);
  EXPECT_EQ(appended, blob);
  EXPECT_TRUE(chunk::decode("")->empty());
}

TEST(RecordChunk, ADamagedBlobIsReportedNeverReadPast) {
  const std::string blob = chunk::encode({{0, 0, 1, 1, "abc"}, {1, 0, 1, 1, "defg"}});
  for (std::size_t cut = 1; cut < blob.size(); ++cut) {
    auto decoded = chunk::decode(std::string_view(blob).substr(0, cut));
    if (cut == blob.size() - (25 + 4)) {
      EXPECT_TRUE(decoded) << cut;  // exactly the first entry
      continue;
    }
    ASSERT_FALSE(decoded) << cut;
    EXPECT_EQ(decoded.error().code, omt::errc::io);
    EXPECT_NE(decoded.error().message.find("cut short"), std::string::npos) << decoded.error().message;
  }
  const std::string out_of_order = chunk::encode({{5, 0, 1, 1, "a"}}) + chunk::encode({{5, 0, 1, 1, "b"}});
  auto decoded = chunk::decode(out_of_order);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("out of order"), std::string::npos);
  std::string bad_slot = chunk::encode({{0, 0, 1, 1, "a"}});
  bad_slot[0] = static_cast<char>(200);
  EXPECT_FALSE(chunk::decode(bad_slot));
}

TEST(RecordChunk, TheSummaryIsTheEarliestNextAttemptAndTheOldestCreation) {
  const auto summary = chunk::summarize({{0, 0, 50, 10, "a"}, {1, 0, 20, 30, "b"}, {2, 0, 40, 5, "c"}});
  EXPECT_EQ(summary.next_attempt_at, 20);
  EXPECT_EQ(summary.created_at, 5);
}

TEST(RecordChunk, IdsAreGroupedByChunkSortedWithoutRepeatsOrNegatives) {
  const auto groups = chunk::group_by_chunk(
      {chunk::record_id(2, 5), chunk::record_id(1, 3), chunk::record_id(2, 1), chunk::record_id(2, 5), -7});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups.at(1), (std::vector<RecordId>{chunk::record_id(1, 3)}));
  EXPECT_EQ(groups.at(2), (std::vector<RecordId>{chunk::record_id(2, 1), chunk::record_id(2, 5)}));
  EXPECT_TRUE(chunk::group_by_chunk({}).empty());
}

TEST(RecordChunk, AnEnqueueIsCutIntoChunksPerKeyAndTypeInOrder) {
  std::vector<NewRecord> records;
  for (int i = 0; i < 6; ++i) {
    records.push_back(NewRecord{i % 2 ? "a" : "b", i % 3 ? RecordType::contact : RecordType::order, "{}"});
  }
  // 0: b/order 1: a/contact 2: b/contact 3: a/order 4: b/contact 5: a/contact
  EXPECT_EQ(chunk::plan_chunks(records), (std::vector<std::vector<std::size_t>>{{0}, {1, 5}, {2, 4}, {3}}));

  std::vector<NewRecord> many(2 * chunk::kRecordsPerChunk + 1, NewRecord{"k", RecordType::contact, "{}"});
  const auto chunks = chunk::plan_chunks(many);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), chunk::kRecordsPerChunk);
  EXPECT_EQ(chunks[1].front(), chunk::kRecordsPerChunk);
  EXPECT_EQ(chunks[2], (std::vector<std::size_t>{2 * chunk::kRecordsPerChunk}));
  EXPECT_TRUE(chunk::plan_chunks({}).empty());
}

TEST(RecordChunk, PartitionNamesKeepKeyAndTypeApart) {
  EXPECT_EQ(chunk::partition_name("key", "contact"), "contact\nkey");
  EXPECT_NE(chunk::partition_name("a", "contact"), chunk::partition_name("contact", "a"));
}

}  // namespace
