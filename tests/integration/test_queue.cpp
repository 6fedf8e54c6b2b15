// The SQLite queue against a real database in a temporary directory.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "omt/queue/sqlite_queue.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::DeadLetterSelection;
using omt::queue::Durability;
using omt::queue::NewRecord;
using omt::queue::RecordId;
using omt::queue::RecordType;
using omt::queue::SqliteQueue;
using omt::queue::SqliteQueueOptions;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-queue-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

NewRecord contact(const std::string& key, int n) {
  return NewRecord{key, RecordType::contact, R"({"@type":"contact","id":"c)" + std::to_string(n) + "\"}"};
}

std::vector<NewRecord> contacts(const std::string& key, int from, int count) {
  std::vector<NewRecord> records;
  for (int i = from; i < from + count; ++i) records.push_back(contact(key, i));
  return records;
}

class QueueTest : public ::testing::Test {
 protected:
  SqliteQueueOptions options() {
    SqliteQueueOptions o;
    o.path = dir_.path() / "data" / "queue.db";
    o.clock = [this] { return now_.load(); };
    return o;
  }
  std::unique_ptr<SqliteQueue> open(SqliteQueueOptions o) {
    auto q = SqliteQueue::open(std::move(o));
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  std::unique_ptr<SqliteQueue> open() { return open(options()); }
  static std::vector<RecordId> enqueue(SqliteQueue& q, std::vector<NewRecord> records) {
    auto future = q.enqueue(std::move(records));
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "enqueue not acknowledged in time";
      return {};
    }
    auto ids = future.get();
    if (!ids) ADD_FAILURE() << ids.error().message;
    return ids ? *ids : std::vector<RecordId>{};
  }
  // Key "old": three contacts (their ids returned) and an order; key "other": two contacts.
  static std::vector<RecordId> enqueue_old_and_other(SqliteQueue& q) {
    auto ids = enqueue(q, contacts("old", 0, 3));
    enqueue(q, {NewRecord{"old", RecordType::order, R"({"@type":"order","id":"o"})"}});
    enqueue(q, contacts("other", 10, 2));
    return ids;
  }
  static std::vector<RecordId> ids_of(const std::vector<omt::queue::QueuedRecord>& records) {
    std::vector<RecordId> ids;
    for (const auto& r : records) ids.push_back(r.id);
    return ids;
  }

  TempDir dir_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
};

TEST_F(QueueTest, EnqueuedRecordsSurviveCloseAndReopen) {
  std::vector<RecordId> ids;
  {
    auto q = open();
    ASSERT_TRUE(q);
    ids = enqueue(*q, {contact("key-a", 1), contact("key-a", 2),
                       NewRecord{"key-a", RecordType::order, R"({"@type":"order","id":"o1"})"}});
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_LT(ids[0], ids[1]);
    EXPECT_EQ(q->depth(), 3u);
  }
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / "queue.db"));  // directory created
  auto q = open();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->depth(), 3u);
  auto leased = q->lease("key-a", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->records.size(), 2u);
  EXPECT_EQ(leased->records[0].id, ids[0]);
  EXPECT_EQ(leased->records[0].json, R"({"@type":"contact","id":"c1"})");
  EXPECT_EQ(leased->records[0].api_key, "key-a");
  EXPECT_EQ(leased->records[0].attempts, 0u);
  EXPECT_EQ(leased->records[0].created_at, now_.load());
  auto orders = q->lease("key-a", RecordType::order, 10, 30s);
  ASSERT_TRUE(orders);
  ASSERT_EQ(orders->records.size(), 1u);
  EXPECT_EQ(orders->records[0].json, R"({"@type":"order","id":"o1"})");
  EXPECT_EQ(orders->records[0].type, RecordType::order);
}

TEST_F(QueueTest, GroupCommitGathersConcurrentProducersIntoOneTransaction) {
  auto q = open();
  ASSERT_TRUE(q);
  // The first enqueue's callback runs on the writer thread; holding it there lets every other producer's
  // enqueue pile up, so the next transaction must gather them all (no timing assumptions).
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false, first_done = false;
  std::promise<void> first_acked;
  q->enqueue(contacts("gate", 0, 1), [&](omt::Expected<std::vector<RecordId>> ids) {
    EXPECT_TRUE(ids);
    std::unique_lock lock(mutex);
    first_done = true;
    cv.notify_all();
    cv.wait_for(lock, 30s, [&] { return release; });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return first_done; }));
  }
  const auto commits_before = q->commits();
  constexpr int producers = 8, enqueues_each = 25, records_each = 10;
  std::vector<std::future<omt::Expected<std::vector<RecordId>>>> futures(producers * enqueues_each);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int e = 0; e < enqueues_each; ++e) {
        futures[p * enqueues_each + e] =
            q->enqueue(contacts("key-" + std::to_string(p), (p * enqueues_each + e) * records_each, records_each));
      }
    });
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  std::set<RecordId> all;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    auto ids = f.get();
    ASSERT_TRUE(ids) << ids.error().message;
    ASSERT_EQ(ids->size(), static_cast<std::size_t>(records_each));
    all.insert(ids->begin(), ids->end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(producers * enqueues_each * records_each));
  EXPECT_EQ(q->commits() - commits_before, 1u) << "200 enqueues should share one transaction";
  EXPECT_EQ(q->depth(), 2001u);
}

TEST_F(QueueTest, ConcurrentProducersAllGetDurableDistinctIds) {
  auto q = open();
  ASSERT_TRUE(q);
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<RecordId> all;
  for (int p = 0; p < 6; ++p) {
    threads.emplace_back([&, p] {
      for (int e = 0; e < 20; ++e) {
        auto ids = enqueue(*q, contacts("k" + std::to_string(p % 2), p * 1000 + e * 10, 10));
        std::lock_guard lock(mutex);
        all.insert(ids.begin(), ids.end());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(all.size(), 1200u);
  EXPECT_LE(q->commits(), 120u);
  q.reset();
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->depth(), 1200u);
}

TEST_F(QueueTest, LeaseAckRescheduleAndLeaseExpiry) {
  auto q = open();
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("a", 0, 5));
  enqueue(*q, contacts("b", 100, 1));
  ASSERT_EQ(ids.size(), 5u);

  auto first = q->lease("a", RecordType::contact, 3, 30s);
  ASSERT_TRUE(first);
  EXPECT_EQ(ids_of(first->records), (std::vector<RecordId>{ids[0], ids[1], ids[2]}));
  auto second = q->lease("a", RecordType::contact, 3, 30s);
  ASSERT_TRUE(second);
  EXPECT_EQ(ids_of(second->records), (std::vector<RecordId>{ids[3], ids[4]}));  // leased ones are not handed out twice
  EXPECT_TRUE(q->lease("a", RecordType::contact, 3, 30s)->records.empty());
  EXPECT_TRUE(q->lease("a", RecordType::order, 3, 30s)->records.empty());

  auto acked = q->ack({ids[0], ids[1], 999'999});
  ASSERT_TRUE(acked);
  EXPECT_EQ(*acked, 2u);
  EXPECT_EQ(q->depth(), 4u);
  EXPECT_EQ(*q->ack({ids[0]}), 0u);  // acking twice is harmless

  ASSERT_EQ(*q->reschedule({ids[2]}, 10s), 1u);
  now_ += 9'999;
  EXPECT_TRUE(q->lease("a", RecordType::contact, 10, 30s)->records.empty());
  now_ += 1;
  auto retried = q->lease("a", RecordType::contact, 10, 30s);
  ASSERT_TRUE(retried);
  ASSERT_EQ(retried->records.size(), 1u);
  EXPECT_EQ(retried->records[0].id, ids[2]);
  EXPECT_EQ(retried->records[0].attempts, 1u);

  // The second lease (taken 10 s ago for 30 s) runs out: its records come back by themselves.
  now_ += 20'000;
  auto expired = q->lease("a", RecordType::contact, 10, 30s);
  ASSERT_TRUE(expired);
  EXPECT_EQ(ids_of(expired->records), (std::vector<RecordId>{ids[3], ids[4]}));
  EXPECT_EQ(q->depth(), 4u);
}

TEST_F(QueueTest, LeasedButUnackedRecordsAreDeliveredAgainAfterARestart) {
  std::vector<RecordId> ids;
  {
    auto q = open();
    ASSERT_TRUE(q);
    ids = enqueue(*q, contacts("a", 0, 4));
    auto leased = q->lease("a", RecordType::contact, 4, 1h);
    ASSERT_TRUE(leased);
    ASSERT_EQ(leased->records.size(), 4u);
    ASSERT_EQ(*q->ack({ids[0]}), 1u);
  }  // "crash" with three records leased and not acked
  auto q = open();
  ASSERT_TRUE(q);
  auto again = q->lease("a", RecordType::contact, 10, 30s);
  ASSERT_TRUE(again);
  EXPECT_EQ(ids_of(again->records), (std::vector<RecordId>{ids[1], ids[2], ids[3]}));
}

TEST_F(QueueTest, DeadLetterListReplayAndPurge) {
  auto q = open();
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("a", 0, 4));
  ASSERT_TRUE(q->lease("a", RecordType::contact, 4, 30s));
  ASSERT_EQ(*q->reschedule({ids[0]}, 0ms), 1u);
  now_ += 5;
  auto moved = q->dead_letter({ids[0], ids[1], ids[2]}, "HTTP 400 Bad Request: Ometria refused the payload");
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(*moved, 3u);
  EXPECT_EQ(q->depth(), 1u);
  EXPECT_EQ(*q->dead_letter({ids[0]}, "again"), 0u);  // already moved

  auto dead = q->dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 3u);
  EXPECT_EQ((*dead)[0].record.id, ids[0]);
  EXPECT_EQ((*dead)[0].record.attempts, 2u);  // one reschedule + the push that was refused
  EXPECT_EQ((*dead)[0].reason, "HTTP 400 Bad Request: Ometria refused the payload");
  EXPECT_EQ((*dead)[0].dead_at, now_.load());
  EXPECT_EQ((*dead)[1].record.json, R"({"@type":"contact","id":"c1"})");
  auto limited = q->dead_letters(DeadLetterSelection{{}, 2});
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->size(), 2u);
  auto by_id = q->dead_letters(DeadLetterSelection{{ids[2], 424242}, 0});
  ASSERT_TRUE(by_id);
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ(by_id->at(0).record.id, ids[2]);

  auto replayed = q->replay(DeadLetterSelection{{ids[1]}, 0});
  ASSERT_TRUE(replayed) << replayed.error().message;
  EXPECT_EQ(*replayed, 1u);
  EXPECT_EQ(q->depth(), 2u);
  auto back = q->lease("a", RecordType::contact, 10, 30s);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0].id, ids[1]);  // same id, fresh attempts
  EXPECT_EQ(back->records[0].attempts, 0u);

  auto stats = q->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->dead_letters, 2u);
  auto purged = q->purge(DeadLetterSelection{{}, 1});
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(q->dead_letters({})->size(), 1u);
  EXPECT_EQ(*q->purge({}), 1u);
  EXPECT_TRUE(q->dead_letters({})->empty());
  EXPECT_EQ(*q->replay({}), 0u);
}

TEST_F(QueueTest, HeldKeysStayStoredAndLeaveReadyPartitionsUntilReleased) {
  {
    auto q = open();
    ASSERT_TRUE(q);
    enqueue(*q, contacts("bad", 0, 3));
    enqueue(*q, contacts("good", 10, 2));
    enqueue(*q, {NewRecord{"good", RecordType::custom_event, R"({"@type":"custom_event","id":"e"})"}});
    ASSERT_TRUE(q->hold_key("bad", "HTTP 401 Unauthorized: Ometria refused the API key"));
  }
  auto q = open();  // holds persist across restarts
  ASSERT_TRUE(q);
  auto ready = q->ready_partitions();
  ASSERT_TRUE(ready) << ready.error().message;
  ASSERT_EQ(ready->size(), 2u);
  for (const auto& p : *ready) EXPECT_EQ(p.api_key, "good");
  auto held = q->held_keys();
  ASSERT_TRUE(held);
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(held->at(0).api_key, "bad");
  EXPECT_EQ(held->at(0).reason, "HTTP 401 Unauthorized: Ometria refused the API key");
  // A probe can still lease from a held key.
  auto probe = q->lease("bad", RecordType::contact, 1, 30s);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->records.size(), 1u);
  ASSERT_TRUE(q->unhold_key("bad"));
  ready = q->ready_partitions();
  ASSERT_TRUE(ready);
  ASSERT_EQ(ready->size(), 3u);
  for (const auto& p : *ready) {
    if (p.api_key == "bad") {
      EXPECT_EQ(p.ready, 2u);  // the probed record is leased
    }
  }
  EXPECT_TRUE(q->held_keys()->empty());
}

TEST_F(QueueTest, RekeyMovesAKeysRecordsWithTheirIdsAttemptsAndDueTimesAndDropsItsHold) {
  auto q = open();
  ASSERT_TRUE(q);
  const auto old_ids = enqueue_old_and_other(*q);
  auto retried = q->lease("old", RecordType::contact, 1, 30s);
  ASSERT_TRUE(retried);
  ASSERT_EQ(*q->reschedule(ids_of(retried->records), 10s), 1u);
  ASSERT_TRUE(q->hold_key("old", "HTTP 401 Unauthorized: Ometria refused the API key"));

  auto moved = q->rekey("old", "new");
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(*moved, 4u);
  EXPECT_TRUE(q->held_keys()->empty());
  EXPECT_EQ(q->depth(), 6u);
  auto stats = q->stats();
  ASSERT_TRUE(stats);
  for (const auto& p : stats->partitions) EXPECT_NE(p.api_key, "old");
  // Due now: two of the three contacts, under the new key and their own ids; the retried one keeps its due time.
  auto leased = q->lease("new", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 2u);
  for (const auto& r : leased->records) {
    EXPECT_EQ(r.api_key, "new");
    EXPECT_NE(std::find(old_ids.begin(), old_ids.end(), r.id), old_ids.end());
  }
  now_ += 10'000;
  leased = q->lease("new", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 1u);
  EXPECT_EQ(leased->records[0].attempts, 1u);
  EXPECT_EQ(q->lease("old", RecordType::contact, 10, 30s)->records.size(), 0u);
  EXPECT_EQ(q->lease("new", RecordType::order, 10, 30s)->records.size(), 1u);
  // A key with nothing queued moves nothing (and drops a hold it may have).
  ASSERT_TRUE(q->hold_key("gone", "HTTP 403 Forbidden: Ometria refused the API key"));
  EXPECT_EQ(*q->rekey("gone", "new"), 0u);
  EXPECT_TRUE(q->held_keys()->empty());
}

TEST_F(QueueTest, ReleaseKeyMovesAKeysRecordsToTheDeadLettersWithTheReasonAndDropsItsHold) {
  auto q = open();
  ASSERT_TRUE(q);
  const auto ids = enqueue_old_and_other(*q);
  ASSERT_TRUE(q->hold_key("old", "HTTP 401 Unauthorized: Ometria refused the API key"));

  auto released = q->release_key("old", "released by the operator");
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(*released, 4u);
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_TRUE(q->held_keys()->empty());
  auto dead = q->dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 4u);
  EXPECT_EQ(dead->at(0).record.id, ids[0]);
  for (const auto& d : *dead) {
    EXPECT_EQ(d.record.api_key, "old");
    EXPECT_EQ(d.reason, "released by the operator");
    EXPECT_EQ(d.record.attempts, 0u);
  }
  auto stats = q->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 2u);
  ASSERT_EQ(stats->partitions.size(), 1u);
  EXPECT_EQ(stats->partitions[0].api_key, "other");
  // Replayed, they come back under the key they had.
  EXPECT_EQ(*q->replay({}), 4u);
  EXPECT_EQ(q->lease("old", RecordType::contact, 10, 30s)->records.size(), 3u);
  EXPECT_EQ(*q->release_key("nobody", "x"), 0u);
}

TEST_F(QueueTest, TheCheapDepthFollowsWhatAnotherConnectionCommitted) {
  auto q = open();
  ASSERT_TRUE(q);
  enqueue(*q, contacts("old", 0, 3));
  auto other = open();  // an operator command beside the service
  ASSERT_TRUE(other);
  EXPECT_EQ(*other->release_key("old", "given up"), 3u);
  ASSERT_TRUE(q->ready_partitions());  // any transaction of its own sees the other's commit
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(*other->replay({}), 3u);
  ASSERT_TRUE(q->held_keys());
  EXPECT_EQ(q->depth(), 3u);
  enqueue(*q, contacts("old", 10, 2));  // and its own changes still count on top
  EXPECT_EQ(q->depth(), 5u);
}

TEST_F(QueueTest, StatsPerKeyAndType) {
  auto q = open();
  ASSERT_TRUE(q);
  enqueue(*q, contacts("a", 0, 3));
  now_ += 1000;
  enqueue(*q, {NewRecord{"a", RecordType::order, "{}"}, NewRecord{"b", RecordType::custom_event, "{}"}});
  auto stats = q->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->depth, 5u);
  EXPECT_EQ(stats->dead_letters, 0u);
  ASSERT_TRUE(stats->oldest_created_at);
  EXPECT_EQ(*stats->oldest_created_at, now_.load() - 1000);
  ASSERT_EQ(stats->partitions.size(), 3u);
  EXPECT_EQ(stats->partitions[0].api_key, "a");
  EXPECT_EQ(stats->partitions[0].type, RecordType::contact);
  EXPECT_EQ(stats->partitions[0].depth, 3u);
  EXPECT_EQ(stats->partitions[1].type, RecordType::order);
  EXPECT_EQ(stats->partitions[2].type, RecordType::custom_event);
  EXPECT_EQ(stats->partitions[2].oldest_created_at, now_.load());
}

TEST_F(QueueTest, HighWaterMark) {
  auto o = options();
  o.high_water_mark = 10;
  auto q = open(o);
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("a", 0, 9));
  EXPECT_FALSE(q->over_high_water());
  enqueue(*q, contacts("a", 9, 1));
  EXPECT_TRUE(q->over_high_water());
  ASSERT_EQ(*q->ack({ids[0]}), 1u);
  EXPECT_FALSE(q->over_high_water());
  q.reset();
  auto reopened = open(o);  // the counter starts from the stored depth
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->depth(), 9u);
}

TEST_F(QueueTest, RefusesOversizedRecordsAndStoresNothing) {
  auto q = open();
  ASSERT_TRUE(q);
  auto records = contacts("a", 0, 2);
  records.push_back(NewRecord{"a", RecordType::contact, std::string(60 * 1024 + 1, 'x')});
  auto result = q->enqueue(std::move(records)).get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, omt::errc::too_large);
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(q->stats()->depth, 0u);
  auto empty = q->enqueue(std::vector<NewRecord>{}).get();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(QueueTest, CallingBackIntoTheQueueFromItsCallbackFailsInsteadOfDeadlocking) {
  auto q = open();
  ASSERT_TRUE(q);
  std::promise<omt::Error> nested;
  q->enqueue(contacts("a", 0, 1), [&](omt::Expected<std::vector<RecordId>>) {
    auto stats = q->stats();
    nested.set_value(stats ? omt::Error{} : stats.error());
  });
  auto future = nested.get_future();
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  auto err = future.get();
  EXPECT_EQ(err.code, omt::errc::io);
  EXPECT_NE(err.message.find("deadlock"), std::string::npos) << err.message;
}

TEST_F(QueueTest, OpenErrorsAreClear) {
  auto o = options();
  o.create_if_missing = false;
  auto missing = SqliteQueue::open(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, omt::errc::io);
  EXPECT_NE(missing.error().message.find("no queue database"), std::string::npos) << missing.error().message;

  std::ofstream(dir_.path() / "a-file") << "x";
  o = options();
  o.path = dir_.path() / "a-file" / "queue.db";
  auto under_file = SqliteQueue::open(o);
  ASSERT_FALSE(under_file);
  EXPECT_EQ(under_file.error().code, omt::errc::io);

  std::ofstream(dir_.path() / "not-a-db") << "this is not an SQLite database, just some text long enough to be read";
  o.path = dir_.path() / "not-a-db";
  auto garbage = SqliteQueue::open(o);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, omt::errc::io);
  EXPECT_NE(garbage.error().message.find("SQLite"), std::string::npos) << garbage.error().message;
}

// A child process enqueues from several threads and writes every acknowledged id to a pipe; it is killed with
// SIGKILL mid-stream. Every id it reported must be in the database afterwards.
class QueueKillTest : public QueueTest, public ::testing::WithParamInterface<Durability> {};

TEST_P(QueueKillTest, NoAcknowledgedRecordIsLostWhenTheProcessIsKilled) {
  auto o = options();
  o.durability = GetParam();
  o.clock = nullptr;  // the child must not touch the parent's fixture
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto q = SqliteQueue::open(o);
    if (!q) _exit(3);
    std::vector<std::thread> producers;
    for (int p = 0; p < 4; ++p) {
      producers.emplace_back([&, p] {
        for (int n = 0;; ++n) {  // until killed
          auto ids = (*q)->enqueue(contacts("k" + std::to_string(p), n * 50, 50)).get();
          if (!ids) _exit(4);
          // 400 bytes < PIPE_BUF: each write is atomic, so ids from different threads never interleave.
          if (write(fds[1], ids->data(), ids->size() * sizeof(RecordId)) < 0) _exit(5);
        }
      });
    }
    for (auto& t : producers) t.join();
    _exit(0);
  }
  close(fds[1]);
  std::vector<RecordId> acknowledged;
  std::vector<char> pending_bytes;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    if (!killed && acknowledged.size() >= 3000) {
      ASSERT_EQ(kill(child, SIGKILL), 0);
      killed = true;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    ASSERT_GT(left.count(), 0) << "the child acknowledged too little in time";
    ASSERT_GE(poll(&pfd, 1, static_cast<int>(left.count())), 0);
    char buffer[4096];
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF: the child is gone and the pipe is drained
    pending_bytes.insert(pending_bytes.end(), buffer, buffer + n);
    const std::size_t whole = pending_bytes.size() / sizeof(RecordId) * sizeof(RecordId);
    for (std::size_t i = 0; i < whole; i += sizeof(RecordId)) {
      RecordId id;
      std::memcpy(&id, pending_bytes.data() + i, sizeof id);
      acknowledged.push_back(id);
    }
    pending_bytes.erase(pending_bytes.begin(), pending_bytes.begin() + static_cast<std::ptrdiff_t>(whole));
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(killed) << "the child exited by itself with status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  auto q = SqliteQueue::open(o);
  ASSERT_TRUE(q) << q.error().message;
  std::set<RecordId> stored;
  for (int p = 0; p < 4; ++p) {
    auto leased = (*q)->lease("k" + std::to_string(p), RecordType::contact, 1'000'000, 1min);
    ASSERT_TRUE(leased) << leased.error().message;
    for (const auto& r : leased->records) stored.insert(r.id);
  }
  EXPECT_GE(acknowledged.size(), 3000u);
  std::size_t missing = 0;
  for (RecordId id : acknowledged) missing += stored.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged records";
}

INSTANTIATE_TEST_SUITE_P(Durability, QueueKillTest,
                         ::testing::Values(Durability::process_crash, Durability::power_loss),
                         [](const ::testing::TestParamInfo<Durability>& param_info) {
                           return param_info.param == Durability::process_crash ? std::string("ProcessCrash")
                                                                          : std::string("PowerLoss");
                         });

}  // namespace
