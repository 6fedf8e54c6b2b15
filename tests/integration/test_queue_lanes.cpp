// The SQLite queue's lanes (queue::Lane): live and backfill records of one (key, type) are stored, leased,
// listed and counted apart; the totals of what each lane delivered and dead-lettered persist; ingest's
// high-water mark counts live records only; a version-3 database keeps every record, as live.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "omt/obs/log.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "sqlite_file.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::Lane;
using omt::queue::NewRecord;
using omt::queue::RecordId;
using omt::queue::RecordType;
using omt::queue::SqliteQueue;
using omt::queue::SqliteQueueOptions;

class QueueLanesTest : public ::testing::Test {
 protected:
  QueueLanesTest() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-lanes-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~QueueLanesTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path db_path() const { return dir_ / "queue.db"; }
  std::unique_ptr<SqliteQueue> open(std::uint64_t high_water_mark = 1'000'000) {
    SqliteQueueOptions o;
    o.path = db_path();
    o.high_water_mark = high_water_mark;
    o.durability = omt::queue::Durability::process_crash;
    auto q = SqliteQueue::open(std::move(o));
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  static std::vector<NewRecord> contacts(const std::string& key, Lane lane, int from, int count) {
    std::vector<NewRecord> records;
    for (int i = from; i < from + count; ++i) {
      records.push_back(
          NewRecord{key, RecordType::contact, R"({"@type":"contact","id":"c)" + std::to_string(i) + "\"}", lane});
    }
    return records;
  }
  static std::vector<RecordId> enqueue(SqliteQueue& q, std::vector<NewRecord> records) {
    auto ids = q.enqueue(std::move(records)).get();
    if (!ids) ADD_FAILURE() << ids.error().message;
    return ids ? *ids : std::vector<RecordId>{};
  }
  void sql(const std::string& statement) { omt::test::run_sql(db_path(), statement); }
  std::int64_t sql_integer(const std::string& query) { return omt::test::sql_integer(db_path(), query); }
  // The partition of that lane, waiting or drained.
  static const omt::queue::PartitionStats* find(const omt::queue::QueueStats& stats, Lane lane) {
    for (const auto* list : {&stats.partitions, &stats.drained})
      for (const auto& p : *list)
        if (p.lane == lane) return &p;
    return nullptr;
  }

  std::filesystem::path dir_;
};

TEST_F(QueueLanesTest, LiveAndBackfillRecordsOfOnePartitionAreLeasedListedAndCountedApart) {
  auto q = open();
  ASSERT_TRUE(q);
  // One enqueue of both lanes: each lane gets chunks of its own.
  auto mixed = contacts("k", Lane::backfill, 0, 3);
  for (auto& r : contacts("k", Lane::live, 3, 2)) mixed.push_back(std::move(r));
  enqueue(*q, std::move(mixed));
  EXPECT_EQ(q->depth(), 5u);
  EXPECT_EQ(q->lane_depth(Lane::live), 2u);
  EXPECT_EQ(q->lane_depth(Lane::backfill), 3u);

  auto ready = q->ready_partitions();
  ASSERT_TRUE(ready) << ready.error().message;
  ASSERT_EQ(ready->size(), 2u);
  EXPECT_EQ(ready->at(0).lane, Lane::live);  // live partitions are listed first
  EXPECT_EQ(ready->at(0).ready, 2u);
  EXPECT_EQ(ready->at(1).lane, Lane::backfill);
  EXPECT_EQ(ready->at(1).ready, 3u);

  auto live = q->lease("k", RecordType::contact, Lane::live, 100, 30s);
  ASSERT_TRUE(live) << live.error().message;
  ASSERT_EQ(live->records.size(), 2u);
  EXPECT_EQ(live->records[0].json, R"({"@type":"contact","id":"c3"})");
  EXPECT_EQ(live->records[0].lane, Lane::live);
  auto backfill = q->lease("k", RecordType::contact, Lane::backfill, 100, 30s);
  ASSERT_TRUE(backfill) << backfill.error().message;
  ASSERT_EQ(backfill->records.size(), 3u);
  EXPECT_EQ(backfill->records[0].json, R"({"@type":"contact","id":"c0"})");
  EXPECT_EQ(backfill->records[0].lane, Lane::backfill);
  // Leased: neither lane lists anything ready.
  ready = q->ready_partitions();
  ASSERT_TRUE(ready);
  EXPECT_TRUE(ready->empty());

  // The old call leases the live lane.
  EXPECT_TRUE(q->lease("k", RecordType::contact, 100, 30s)->records.empty());
}

TEST_F(QueueLanesTest, DeliveredAndDeadLetteredTotalsArePerLaneAndOutliveTheProcess) {
  {
    auto q = open();
    ASSERT_TRUE(q);
    enqueue(*q, contacts("k", Lane::backfill, 0, 5));
    enqueue(*q, contacts("k", Lane::live, 5, 2));
    auto backfill = q->lease("k", RecordType::contact, Lane::backfill, 100, 30s);
    ASSERT_TRUE(backfill);
    ASSERT_EQ(backfill->records.size(), 5u);
    // Three delivered (the whole-chunk ack path is not taken: the chunk holds five) and two dead-lettered.
    ASSERT_EQ(*q->ack({backfill->records[0].id, backfill->records[1].id, backfill->records[2].id}), 3u);
    ASSERT_EQ(*q->dead_letter({backfill->records[3].id, backfill->records[4].id}, "HTTP 400"), 2u);
    auto live = q->lease("k", RecordType::contact, Lane::live, 100, 30s);
    ASSERT_TRUE(live);
    ASSERT_EQ(*q->ack({live->records[0].id, live->records[1].id}), 2u);  // the whole chunk: deleted unread
    EXPECT_EQ(q->depth(), 0u);
    EXPECT_EQ(q->lane_depth(Lane::backfill), 0u);
  }
  auto q = open();
  ASSERT_TRUE(q);
  auto stats = q->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_TRUE(stats->partitions.empty());  // nothing waits
  ASSERT_EQ(stats->drained.size(), 2u);    // and the totals keep both listed
  const auto* backfill = find(*stats, Lane::backfill);
  const auto* live = find(*stats, Lane::live);
  ASSERT_TRUE(backfill && live);
  EXPECT_EQ(backfill->depth, 0u);
  EXPECT_EQ(backfill->delivered, 3u);
  EXPECT_EQ(backfill->dead_lettered, 2u);
  EXPECT_EQ(live->delivered, 2u);
  EXPECT_EQ(live->dead_lettered, 0u);
  EXPECT_EQ(stats->dead_letters, 2u);

  // A replayed dead letter comes back live (and its lane's total of dead letters stays what happened).
  ASSERT_EQ(*q->replay({}), 2u);
  EXPECT_EQ(q->lane_depth(Lane::live), 2u);
  EXPECT_EQ(q->lane_depth(Lane::backfill), 0u);
  EXPECT_EQ(q->lease("k", RecordType::contact, Lane::live, 100, 30s)->records.size(), 2u);
}

TEST_F(QueueLanesTest, ReleasingAKeyCountsItsRecordsAsDeadLetteredInTheirLanes) {
  auto q = open();
  ASSERT_TRUE(q);
  enqueue(*q, contacts("k", Lane::backfill, 0, 4));
  enqueue(*q, contacts("k", Lane::live, 4, 1));
  ASSERT_EQ(*q->release_key("k", "operator gave the key up"), 5u);
  EXPECT_EQ(q->depth(), 0u);
  auto stats = q->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(find(*stats, Lane::backfill)->dead_lettered, 4u);
  EXPECT_EQ(find(*stats, Lane::live)->dead_lettered, 1u);
}

TEST_F(QueueLanesTest, TheHighWaterMarkCountsLiveRecordsOnly) {
  auto q = open(/*high_water_mark=*/10);
  ASSERT_TRUE(q);
  enqueue(*q, contacts("k", Lane::backfill, 0, 50));
  EXPECT_FALSE(q->over_high_water()) << "a large backfill never makes ingest answer 429";
  enqueue(*q, contacts("k", Lane::live, 50, 10));
  EXPECT_TRUE(q->over_high_water());
}

TEST_F(QueueLanesTest, TheCheapDepthOfEachLaneFollowsAnotherProcesssWrites) {
  auto server = open();
  ASSERT_TRUE(server);
  {
    auto importer = open();  // another connection, as `import` beside `serve`
    ASSERT_TRUE(importer);
    enqueue(*importer, contacts("k", Lane::backfill, 0, 7));
  }
  enqueue(*server, contacts("k", Lane::live, 7, 1));  // its transaction sees the other's commit and recounts
  EXPECT_EQ(server->lane_depth(Lane::backfill), 7u);
  EXPECT_EQ(server->lane_depth(Lane::live), 1u);
}

// A database as version 3 left it: chunks without a lane, no lane_totals; made from a current one by hand.
TEST_F(QueueLanesTest, AVersion3DatabaseKeepsEveryRecordAsLiveAndNeverReusesAnId) {
  std::vector<RecordId> kept;
  RecordId highest = 0;
  {
    auto q = open();
    ASSERT_TRUE(q);
    kept = enqueue(*q, contacts("k", Lane::live, 0, 3));
    auto last = enqueue(*q, contacts("k", Lane::live, 3, 2));
    highest = last.back();
    auto leased = q->lease("k", RecordType::contact, 100, 30s);
    ASSERT_TRUE(leased);
    ASSERT_EQ(leased->records.size(), 5u);
    ASSERT_EQ(*q->ack(last), 2u);  // the newest chunk goes: the id counter is past every stored id
  }
  const auto counter = sql_integer("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'");
  sql("CREATE TABLE chunks_v3(id INTEGER PRIMARY KEY AUTOINCREMENT, api_key TEXT NOT NULL, type TEXT NOT NULL,"
      " count INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, created_at INTEGER NOT NULL, records BLOB NOT NULL);"
      "INSERT INTO chunks_v3 SELECT id, api_key, type, count, next_attempt_at, created_at, records FROM chunks;"
      "DROP TABLE chunks; ALTER TABLE chunks_v3 RENAME TO chunks;"
      "CREATE INDEX chunks_due ON chunks(api_key, type, next_attempt_at, id, count, created_at);"
      "DROP TABLE lane_totals;"
      "UPDATE sqlite_sequence SET seq = " + std::to_string(counter) + " WHERE name = 'chunks';"
      "PRAGMA user_version = 3;");
  ASSERT_EQ(sql_integer("SELECT COUNT(*) FROM pragma_table_info('chunks') WHERE name = 'lane'"), 0);

  auto q = open();
  ASSERT_TRUE(q);
  EXPECT_EQ(sql_integer("PRAGMA user_version"), 6);
  EXPECT_EQ(q->lane_depth(Lane::live), 3u);
  EXPECT_EQ(q->lane_depth(Lane::backfill), 0u);
  auto leased = q->lease("k", RecordType::contact, Lane::live, 100, 30s);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->records.size(), 3u);
  for (std::size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(leased->records[i].id, kept[i]);  // same ids
  EXPECT_EQ(leased->records[2].json, R"({"@type":"contact","id":"c2"})");
  auto fresh = enqueue(*q, contacts("k", Lane::backfill, 9, 1));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_GT(fresh[0], highest) << "an id handed out before the upgrade is never handed out again";
  ASSERT_EQ(*q->ack(kept), 3u);
  EXPECT_EQ(q->stats()->drained.size(), 1u);  // the totals table exists and counts
}

TEST_F(QueueLanesTest, QueueStatsShowsEachLanesDepthAndWhatItDeliveredAndDeadLettered) {
  {
    auto q = open();
    ASSERT_TRUE(q);
    enqueue(*q, contacts("secret-lanes-key", Lane::backfill, 0, 4));
    enqueue(*q, contacts("secret-lanes-key", Lane::live, 4, 1));
    auto backfill = q->lease("secret-lanes-key", RecordType::contact, Lane::backfill, 100, 30s);
    ASSERT_TRUE(backfill);
    ASSERT_EQ(*q->ack({backfill->records[0].id}), 1u);
    ASSERT_EQ(*q->dead_letter({backfill->records[1].id}, "HTTP 400"), 1u);
  }
  auto r = omt::test::run("queue stats --queue '" + db_path().string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("secret-lanes-key"), std::string::npos) << "an API key was printed: " << r.out;
  const auto stats = nlohmann::json::parse(r.out);
  EXPECT_EQ(stats["depth"], 3);
  EXPECT_EQ(stats["live_depth"], 1);
  EXPECT_EQ(stats["backfill_depth"], 2);
  ASSERT_EQ(stats["partitions"].size(), 1u);
  EXPECT_EQ(stats["partitions"][0]["depth"], 3);
  EXPECT_EQ(stats["partitions"][0]["lanes"]["live"], 1);
  EXPECT_EQ(stats["partitions"][0]["lanes"]["backfill"], 2);
  ASSERT_EQ(stats["lanes"].size(), 2u);  // by key, type, lane: live first
  const auto& live = stats["lanes"][0];
  const auto& backfill = stats["lanes"][1];
  EXPECT_EQ(live["lane"], "live");
  EXPECT_EQ(live["key"], omt::obs::key_fingerprint("secret-lanes-key"));
  EXPECT_EQ(live["type"], "contact");
  EXPECT_EQ(live["depth"], 1);
  EXPECT_EQ(live["delivered"], 0);
  EXPECT_EQ(backfill["lane"], "backfill");
  EXPECT_EQ(backfill["depth"], 2);
  EXPECT_EQ(backfill["delivered"], 1);
  EXPECT_EQ(backfill["dead_lettered"], 1);
  EXPECT_TRUE(backfill["oldest_age_seconds"].is_number());
}

}  // namespace
