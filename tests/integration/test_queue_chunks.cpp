// The SQLite queue's chunked layout (records of one enqueue and partition stored together): leases hand out
// whole chunks and say when more were left behind; every operation still works record by record with stable
// ids; a database written in the old one-row-per-record layout is moved over on open; a damaged chunk is moved
// to the dead-letter store, never a crash and never a partition stuck behind it; the schema version is kept in
// the file, and a file from a newer version is refused.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "sqlite_file.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::NewRecord;
using omt::queue::RecordId;
using omt::queue::RecordType;
using omt::queue::SqliteQueue;
using omt::queue::SqliteQueueOptions;

class QueueChunksTest : public ::testing::Test {
 protected:
  QueueChunksTest() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-chunks-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~QueueChunksTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path db_path() const { return dir_ / "queue.db"; }
  std::unique_ptr<SqliteQueue> open() {
    SqliteQueueOptions o;
    o.path = db_path();
    o.clock = [this] { return now_.load(); };
    auto q = SqliteQueue::open(std::move(o));
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  static std::vector<NewRecord> contacts(const std::string& key, int from, int count) {
    std::vector<NewRecord> records;
    for (int i = from; i < from + count; ++i) {
      records.push_back(NewRecord{key, RecordType::contact, R"({"@type":"contact","id":"c)" + std::to_string(i) + "\"}"});
    }
    return records;
  }
  static std::vector<RecordId> enqueue(SqliteQueue& q, std::vector<NewRecord> records) {
    auto ids = q.enqueue(std::move(records)).get();
    if (!ids) ADD_FAILURE() << ids.error().message;
    return ids ? *ids : std::vector<RecordId>{};
  }
  // Runs SQL on the database file directly (another connection), as an old version or a damaged disk would.
  void sql(const std::string& statement) { omt::test::run_sql(db_path(), statement); }
  std::int64_t sql_integer(const std::string& query) { return omt::test::sql_integer(db_path(), query); }

  std::filesystem::path dir_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
};

TEST_F(QueueChunksTest, LeasesStopAtAChunkThatDoesNotFitAndSaySoMoreAreDue) {
  auto q = open();
  ASSERT_TRUE(q);
  for (int request = 0; request < 3; ++request) enqueue(*q, contacts("k", request * 40, 40));

  auto first = q->lease("k", RecordType::contact, 100, 30s);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->records.size(), 80u);  // two whole chunks; the third would not fit
  EXPECT_TRUE(first->more_due);
  auto second = q->lease("k", RecordType::contact, 100, 30s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->records.size(), 40u);
  EXPECT_FALSE(second->more_due);
  EXPECT_EQ(second->records.front().json, R"({"@type":"contact","id":"c80"})");  // oldest first, in order
}

TEST_F(QueueChunksTest, AChunkLargerThanAskedIsSplitAndTheRestKeepsItsIds) {
  auto q = open();
  ASSERT_TRUE(q);
  const auto ids = enqueue(*q, contacts("k", 0, 250));  // chunks of 100, 100, 50
  ASSERT_EQ(ids.size(), 250u);
  EXPECT_EQ(std::set<RecordId>(ids.begin(), ids.end()).size(), 250u);

  auto part = q->lease("k", RecordType::contact, 30, 30s);
  ASSERT_TRUE(part);
  ASSERT_EQ(part->records.size(), 30u);
  EXPECT_TRUE(part->more_due);
  EXPECT_EQ(part->records.front().id, ids[0]);
  // Ack a few, reschedule one, leave the others leased: the chunk's remaining records are untouched.
  EXPECT_EQ(*q->ack({ids[0], ids[1], ids[2]}), 3u);
  EXPECT_EQ(*q->reschedule({ids[3]}, 1s), 1u);
  EXPECT_EQ(q->depth(), 247u);

  auto rest = q->lease("k", RecordType::contact, 100, 30s);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->records.size(), 70u);  // ids[30..99]: the rest of the first chunk
  EXPECT_EQ(rest->records.front().id, ids[30]);
  EXPECT_EQ(rest->records.back().id, ids[99]);

  now_ += 1000;
  auto retried = q->lease("k", RecordType::contact, 1, 30s);
  ASSERT_TRUE(retried);
  ASSERT_EQ(retried->records.size(), 1u);
  EXPECT_EQ(retried->records[0].id, ids[3]);
  EXPECT_EQ(retried->records[0].attempts, 1u);

  // Dead-lettering part of a chunk moves exactly those records.
  EXPECT_EQ(*q->dead_letter({ids[30], ids[31]}, "HTTP 400"), 2u);
  auto dead = q->dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ((*dead)[0].record.json, R"({"@type":"contact","id":"c30"})");
  EXPECT_EQ(q->depth(), 245u);
  // Back under the same id, into the chunk it came from.
  EXPECT_EQ(*q->replay(omt::queue::DeadLetterSelection{{ids[31]}, 0}), 1u);
  EXPECT_EQ(q->depth(), 246u);
  EXPECT_EQ(*q->ack({ids[31]}), 1u);
}

TEST_F(QueueChunksTest, RecordsOfOneEnqueueAreChunkedPerKeyAndType) {
  auto q = open();
  ASSERT_TRUE(q);
  std::vector<NewRecord> mixed;
  for (int i = 0; i < 6; ++i) {
    mixed.push_back(NewRecord{i % 2 ? "a" : "b", i % 3 ? RecordType::contact : RecordType::order,
                              R"({"id":")" + std::to_string(i) + "\"}"});
  }
  const auto ids = enqueue(*q, mixed);
  ASSERT_EQ(ids.size(), 6u);
  auto stats = q->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 6u);
  EXPECT_EQ(stats->partitions.size(), 4u);
  auto b_contacts = q->lease("b", RecordType::contact, 100, 30s);
  ASSERT_TRUE(b_contacts);
  ASSERT_EQ(b_contacts->records.size(), 2u);  // records 2 and 4, in order, with the ids enqueue gave them
  EXPECT_EQ(b_contacts->records[0].id, ids[2]);
  EXPECT_EQ(b_contacts->records[1].id, ids[4]);
  EXPECT_EQ(b_contacts->records[1].json, R"({"id":"4"})");
}

TEST_F(QueueChunksTest, ADatabaseInTheOldOneRowPerRecordLayoutIsMovedOverOnOpen) {
  sql("CREATE TABLE records(id INTEGER PRIMARY KEY AUTOINCREMENT, api_key TEXT NOT NULL, type TEXT NOT NULL,"
      " json TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,"
      " created_at INTEGER NOT NULL);"
      "INSERT INTO records(api_key, type, json, attempts, next_attempt_at, created_at) VALUES"
      " ('k', 'contact', '{\"id\":\"old1\"}', 0, 1, 100),"
      " ('k', 'contact', '{\"id\":\"old2\"}', 3, 2, 101),"
      " ('k', 'order', '{\"id\":\"old3\"}', 0, 3, 102);");
  std::unique_ptr<SqliteQueue> q;
  {
    omt::test::LogCapture capture({"info", omt::obs::LogFormat::text, false});
    q = open();
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].ends_with(" info queue: moved 3 records into chunks (the queue's new layout)")) << lines[0];
  }
  ASSERT_TRUE(q);
  EXPECT_EQ(q->depth(), 3u);
  EXPECT_EQ(sql_integer("SELECT COUNT(*) FROM sqlite_master WHERE name = 'records'"), 0);
  EXPECT_EQ(sql_integer("PRAGMA user_version"), 6);
  auto contacts = q->lease("k", RecordType::contact, 100, 30s);
  ASSERT_TRUE(contacts);
  ASSERT_EQ(contacts->records.size(), 2u);
  EXPECT_EQ(contacts->records[0].json, R"({"id":"old1"})");
  EXPECT_EQ(contacts->records[1].json, R"({"id":"old2"})");
  EXPECT_EQ(contacts->records[1].attempts, 3u);
  EXPECT_EQ(contacts->records[1].created_at, 101);
  q.reset();
  auto reopened = open();  // the old table is gone: nothing is moved twice
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->depth(), 3u);
}

TEST_F(QueueChunksTest, ADamagedChunkMovesToTheDeadLetterStoreAndTheRestOfItsPartitionFlows) {
  std::vector<RecordId> second;
  {
    auto q = open();
    ASSERT_TRUE(q);
    enqueue(*q, contacts("k", 0, 3));
    second = enqueue(*q, contacts("k", 3, 2));
  }
  sql("UPDATE chunks SET records = x'0001' WHERE id = (SELECT MIN(id) FROM chunks)");
  auto q = open();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->depth(), 5u);
  auto leased = q->lease("k", RecordType::contact, 100, 30s);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->records.size(), 2u);  // the partition is not stuck behind the damaged chunk
  EXPECT_EQ(leased->records[0].id, second[0]);
  EXPECT_EQ(q->depth(), 2u);
  auto dead = q->dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_NE(dead->at(0).reason.find("damaged chunk of 3 records"), std::string::npos) << dead->at(0).reason;
  EXPECT_NE(dead->at(0).reason.find("cut short"), std::string::npos) << dead->at(0).reason;
  EXPECT_EQ(dead->at(0).record.json, "0001");  // its bytes, kept for inspection
}

TEST_F(QueueChunksTest, ANewDatabaseIsAtTheCurrentSchemaVersionAndReopensWithoutChange) {
  {
    auto q = open();
    ASSERT_TRUE(q);
    enqueue(*q, contacts("k", 0, 2));
  }
  EXPECT_EQ(sql_integer("PRAGMA user_version"), 6);
  // A database of version 1's tables written before the version was kept (0) is taken as it is.
  sql("PRAGMA user_version = 0");
  auto q = open();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->depth(), 2u);
  q.reset();
  EXPECT_EQ(sql_integer("PRAGMA user_version"), 6);
}

TEST_F(QueueChunksTest, AVersion1DatabaseGainsTheRejectedEventsTableAndKeepsItsRecords) {
  {
    auto q = open();
    ASSERT_TRUE(q);
    enqueue(*q, contacts("k", 0, 2));
  }
  // Version 1 as it was: no rejected_events table.
  sql("DROP TABLE rejected_events; PRAGMA user_version = 1");
  auto q = open();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_EQ(sql_integer("PRAGMA user_version"), 6);
  auto stored = q->store({{}, {omt::queue::NewRejectedEvent{"web", "/v1/track", "why", R"({"type":"track"})"}}}).get();
  ASSERT_TRUE(stored) << stored.error().message;
  auto events = q->rejected_events({});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
}

TEST_F(QueueChunksTest, ADatabaseFromANewerVersionIsRefusedNeverMisread) {
  { ASSERT_TRUE(open()); }
  sql("PRAGMA user_version = 7");
  SqliteQueueOptions o;
  o.path = db_path();
  auto q = SqliteQueue::open(std::move(o));
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, omt::errc::io);
  EXPECT_NE(q.error().message.find("schema version 7, newer than this build knows (6)"), std::string::npos)
      << q.error().message;
  EXPECT_EQ(sql_integer("PRAGMA user_version"), 7);  // left as it was
}

}  // namespace
