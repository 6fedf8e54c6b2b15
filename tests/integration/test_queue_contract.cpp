// The queue contract (omt/queue/queue.hpp) checked against every backend: the same cases run on SQLite in a
// temporary directory and on a real PostgreSQL server the tests start (support/postgres_server.hpp), on every run.
// What only one backend does (SQLite's chunks, its file errors, the PostgreSQL connection) is tested beside it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "omt/queue/postgres_queue.hpp"
#include "omt/queue/request_log.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "fake_ometria.hpp"  // TempDir
#include "postgres_server.hpp"
#include "queue_records.hpp"
#include "request_log_entries.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::DeadLetterSelection;
using omt::queue::ImportCheckpoint;
using omt::queue::ImportRun;
using omt::queue::ImportState;
using omt::queue::IngestWrite;
using omt::queue::Lane;
using omt::queue::NewRecord;
using omt::queue::NewRejectedEvent;
using omt::queue::Queue;
using omt::queue::RecordId;
using omt::queue::RecordType;
using omt::queue::RejectedEventOutcome;
using omt::queue::RejectedEventSelection;

enum class Backend { sqlite, postgres };

using omt::test::contact;
using omt::test::contacts;

NewRejectedEvent rejected(int n, const std::string& source = "web") {
  return NewRejectedEvent{source, "/v1/batch", "Missing required value " + std::to_string(n),
                          R"({"type":"identify","userId":"u)" + std::to_string(n) + "\"}"};
}

NewRecord contact(int n) { return contact("k", n); }  // key "k"

// What a test may change about the queue it opens; the rest is each backend's default.
struct QueueSettings {
  std::uint64_t high_water_mark = omt::config::QueueConfig{}.high_water_mark;
  std::uint64_t max_rejected_events = omt::config::QueueConfig{}.max_rejected_events;
  std::uint64_t max_request_log = omt::config::QueueConfig{}.max_request_log;
};

class QueueContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgres) url_ = omt::test::PostgresServer::shared().create_database();
  }
  void TearDown() override { queue_.reset(); }

  QueueSettings options() { return {}; }
  // A new queue object on this test's database (the same data each time).
  std::unique_ptr<Queue> open(QueueSettings s = {}) {
    if (GetParam() == Backend::postgres) {
      omt::queue::PostgresQueueOptions o;
      o.url = url_;
      o.high_water_mark = s.high_water_mark;
      o.max_rejected_events = s.max_rejected_events;
      o.max_request_log = s.max_request_log;
      o.clock = [this] { return now_.load(); };
      // Each open is this test's one instance restarting: under one name, as PostgresQueueOptions::lease_owner says
      // (an unnamed instance's old leases end when its key claims are taken over, after queue.lease_timeout).
      o.lease_owner = "contract-instance";
      auto q = omt::queue::PostgresQueue::open(std::move(o));
      if (!q) ADD_FAILURE() << q.error().message;
      return q ? std::move(*q) : nullptr;
    }
    omt::queue::SqliteQueueOptions o;
    o.path = std::filesystem::path(dir_.path()) / "data" / "queue.db";
    o.high_water_mark = s.high_water_mark;
    o.max_rejected_events = s.max_rejected_events;
    o.max_request_log = s.max_request_log;
    o.clock = [this] { return now_.load(); };
    auto q = omt::queue::SqliteQueue::open(std::move(o));
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  // The fixture's own queue (queue_), opened again.
  Queue& reopen(std::uint64_t max_rejected_events = 100'000) {
    queue_.reset();
    QueueSettings s;
    s.max_rejected_events = max_rejected_events;
    queue_ = open(s);
    if (!queue_) throw std::runtime_error("the queue did not open");
    return *queue_;
  }
  static std::uint64_t commits(Queue& q) {
    if (auto* s = dynamic_cast<omt::queue::SqliteQueue*>(&q)) return s->commits();
    return dynamic_cast<omt::queue::PostgresQueue&>(q).commits();
  }
  static std::vector<RecordId> enqueue(Queue& q, std::vector<NewRecord> records) {
    return omt::test::enqueue_acknowledged(q, std::move(records));
  }
  // Key "old": three contacts (their ids returned) and an order; key "other": two contacts.
  static std::vector<RecordId> enqueue_old_and_other(Queue& q) {
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
  omt::queue::IngestStored store(IngestWrite write) {
    auto stored = queue_->store(std::move(write)).get();
    EXPECT_TRUE(stored) << stored.error().message;
    return stored ? *stored : omt::queue::IngestStored{};
  }
  std::vector<omt::queue::RejectedEvent> listed(RejectedEventSelection which = {}) {
    auto events = queue_->rejected_events(which);
    EXPECT_TRUE(events) << events.error().message;
    return events ? *events : std::vector<omt::queue::RejectedEvent>{};
  }
  static std::vector<std::string> reasons(const std::vector<omt::queue::RejectedEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.event.reason);
    return out;
  }

  omt::testing::TempDir dir_;
  std::string url_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
  std::unique_ptr<Queue> queue_;
};

TEST_P(QueueContract, EnqueuedRecordsSurviveCloseAndReopen) {
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
  if (GetParam() == Backend::sqlite) {
    EXPECT_TRUE(std::filesystem::exists(dir_.file("data/queue.db")));  // directory created
  }
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

TEST_P(QueueContract, ConcurrentProducersAllGetDurableDistinctIds) {
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
  EXPECT_LE(commits(*q), 120u);
  q.reset();
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->depth(), 1200u);
}

// A scan says how many due records it can use: each partition is counted exactly up to that bound (and may stop
// there), leased records are not due, and partitions come oldest first within a lane.
TEST_P(QueueContract, ReadyPartitionsCountDueRecordsExactlyUpToTheBoundAsked) {
  auto q = open();
  ASSERT_TRUE(q);
  enqueue(*q, contacts("deep", 0, 7));
  enqueue(*q, contacts("shallow", 100, 2));
  const auto ready_of = [&](std::uint64_t bound) {
    std::map<std::string, std::uint64_t> ready;
    auto listed = q->ready_partitions(bound);
    EXPECT_TRUE(listed);
    if (listed) for (const auto& p : *listed) ready[p.api_key] = p.ready;
    return ready;
  };
  EXPECT_EQ(ready_of(0), (std::map<std::string, std::uint64_t>{{"deep", 7}, {"shallow", 2}}));
  auto bounded = ready_of(3);
  ASSERT_EQ(bounded.size(), 2u);
  EXPECT_GE(bounded["deep"], 3u);
  EXPECT_LE(bounded["deep"], 7u);
  EXPECT_EQ(bounded["shallow"], 2u);  // under the bound: exact
  ASSERT_TRUE(q->lease("deep", RecordType::contact, omt::queue::Lane::live, 5, 30s));
  EXPECT_EQ(ready_of(10), (std::map<std::string, std::uint64_t>{{"deep", 2}, {"shallow", 2}}));
}

// Lanes: a lease reads one lane, each lane in its own order, and ready partitions list the live lane first.
TEST_P(QueueContract, EachLaneIsLeasedApartAndReadyPartitionsListLiveFirst) {
  auto q = open();
  ASSERT_TRUE(q);
  auto backfill = contacts("a", 0, 3);
  for (auto& r : backfill) r.lane = omt::queue::Lane::backfill;
  const auto backfill_ids = enqueue(*q, backfill);
  const auto live_ids = enqueue(*q, contacts("a", 100, 2));
  auto ready = q->ready_partitions();
  ASSERT_TRUE(ready);
  ASSERT_EQ(ready->size(), 2u);
  EXPECT_EQ((*ready)[0].lane, omt::queue::Lane::live);  // though the backfill is older
  EXPECT_EQ((*ready)[0].ready, 2u);
  EXPECT_EQ((*ready)[1].lane, omt::queue::Lane::backfill);
  auto live = q->lease("a", RecordType::contact, omt::queue::Lane::live, 10, 30s);
  ASSERT_TRUE(live);
  EXPECT_EQ(ids_of(live->records), live_ids);
  auto rest = q->lease("a", RecordType::contact, omt::queue::Lane::backfill, 10, 30s);
  ASSERT_TRUE(rest);
  EXPECT_EQ(ids_of(rest->records), backfill_ids);
  for (const auto& r : rest->records) EXPECT_EQ(r.lane, omt::queue::Lane::backfill);
}

TEST_P(QueueContract, LeaseAckRescheduleAndLeaseExpiry) {
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

// A lease given back unpushed (a held key, a key another instance owns now) is no delivery attempt.
TEST_P(QueueContract, RecordsGivenBackAreDueAtOnceWithTheirAttemptsUnchanged) {
  auto q = open();
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("a", 0, 3));
  auto leased = q->lease("a", RecordType::contact, 2, 1h);
  ASSERT_TRUE(leased);
  ASSERT_EQ(ids_of(leased->records), (std::vector<RecordId>{ids[0], ids[1]}));
  auto given = q->give_back({ids[0], ids[1], ids[2]});
  ASSERT_TRUE(given) << given.error().message;
  EXPECT_EQ(*given, 2u) << "the third was not leased";
  auto again = q->lease("a", RecordType::contact, 10, 1h);
  ASSERT_TRUE(again);
  ASSERT_EQ(ids_of(again->records), ids) << "due at once, not when the hour's lease ends";
  for (const auto& r : again->records) EXPECT_EQ(r.attempts, 0u) << r.id;
  EXPECT_EQ(q->depth(), 3u);
  EXPECT_EQ(*q->give_back({}), 0u);
}

// A push's records may end their lease apart (some accepted, some retried, some given back or dead-lettered):
// each ends its own lease only, and the scan counts exactly the records free again.
TEST_P(QueueContract, ALeaseEndedInPartsKeepsItsOtherRecordsLeased) {
  auto q = open();
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("a", 0, 5));
  const auto ready = [&]() -> std::uint64_t {
    auto listed = q->ready_partitions();
    EXPECT_TRUE(listed);
    return listed && !listed->empty() ? listed->front().ready : 0;
  };
  auto leased = q->lease("a", RecordType::contact, 4, 1h);
  ASSERT_TRUE(leased);
  ASSERT_EQ(ids_of(leased->records), (std::vector<RecordId>{ids[0], ids[1], ids[2], ids[3]}));
  EXPECT_EQ(ready(), 1u);
  ASSERT_EQ(*q->ack({ids[0]}), 1u);
  ASSERT_EQ(*q->reschedule({ids[1]}, 0ms), 1u);
  EXPECT_EQ(ready(), 2u);
  ASSERT_EQ(*q->give_back({ids[2]}), 1u);
  EXPECT_EQ(ready(), 3u);
  auto again = q->lease("a", RecordType::contact, 10, 1h);
  ASSERT_TRUE(again);
  EXPECT_EQ(ids_of(again->records), (std::vector<RecordId>{ids[1], ids[2], ids[4]})) << "the fourth is still leased";
  EXPECT_EQ(ready(), 0u);
  ASSERT_EQ(*q->dead_letter({ids[3]}, "refused"), 1u);
  ASSERT_EQ(*q->give_back({ids[4], ids[1], ids[2]}), 3u) << "in any order";
  EXPECT_EQ(ready(), 3u);
  EXPECT_EQ(q->depth(), 3u);
}

// One ack may name records of two leases, in any order: both leases end for those records, and only for them.
TEST_P(QueueContract, AnAckOfTwoLeasesRecordsInAnyOrderEndsTheirLeasesAndNoOthers) {
  auto q = open();
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("a", 0, 5));
  ASSERT_EQ(ids_of(q->lease("a", RecordType::contact, 2, 1h)->records), (std::vector<RecordId>{ids[0], ids[1]}));
  ASSERT_EQ(ids_of(q->lease("a", RecordType::contact, 2, 1h)->records), (std::vector<RecordId>{ids[2], ids[3]}));
  ASSERT_EQ(*q->ack({ids[3], ids[0]}), 2u);
  auto listed = q->ready_partitions();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().ready, 1u) << "the fifth is free; the second and third are still leased";
  auto again = q->lease("a", RecordType::contact, 10, 1h);
  ASSERT_TRUE(again);
  EXPECT_EQ(ids_of(again->records), (std::vector<RecordId>{ids[4]}));
  EXPECT_EQ(q->depth(), 3u);
}

TEST_P(QueueContract, LeasedButUnackedRecordsAreDeliveredAgainAfterARestart) {
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

TEST_P(QueueContract, DeadLetterListReplayAndPurge) {
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

TEST_P(QueueContract, HeldKeysStayStoredAndLeaveReadyPartitionsUntilReleased) {
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

TEST_P(QueueContract, RekeyMovesAKeysRecordsWithTheirIdsAttemptsAndDueTimesAndDropsItsHold) {
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

TEST_P(QueueContract, ReleaseKeyMovesAKeysRecordsToTheDeadLettersWithTheReasonAndDropsItsHold) {
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

TEST_P(QueueContract, StatsPerKeyAndType) {
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

TEST_P(QueueContract, HighWaterMark) {
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

TEST_P(QueueContract, RefusesOversizedRecordsAndStoresNothing) {
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

TEST_P(QueueContract, CallingBackIntoTheQueueFromItsCallbackFailsInsteadOfDeadlocking) {
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

TEST_P(QueueContract, RejectedEventsStoredTogetherWithTheRequestsRecordsAndDurable) {
  auto& q = reopen();
  const auto stored = store({{contact(1), contact(2)}, {rejected(1), rejected(2, "app")}});
  EXPECT_EQ(stored.records.size(), 2u);
  EXPECT_EQ(stored.rejected_dropped, 0u);
  EXPECT_EQ(q.depth(), 2u);  // rejected events are not records waiting

  reopen();  // what the answer promised is in the file
  const auto events = listed();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.source, "web");
  EXPECT_EQ(events[0].event.route, "/v1/batch");
  EXPECT_EQ(events[0].event.reason, "Missing required value 1");
  EXPECT_EQ(events[0].event.event, R"({"type":"identify","userId":"u1"})");
  EXPECT_EQ(events[0].rejected_at, 1'700'000'000'000);
  EXPECT_EQ(events[1].event.source, "app");
  EXPECT_LT(events[0].id, events[1].id);
  auto stats = queue_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 2u);
  EXPECT_EQ(stats->rejected_events, 2u);

  // Only rejected events: stored all the same.
  EXPECT_TRUE(store({{}, {rejected(3)}}).records.empty());
  EXPECT_EQ(listed().size(), 3u);
}

TEST_P(QueueContract, RejectedEventsBoundedTheOldestAreDroppedFirstAndCounted) {
  reopen(/*max_rejected_events=*/3);
  EXPECT_EQ(store({{}, {rejected(1), rejected(2)}}).rejected_dropped, 0u);
  EXPECT_EQ(store({{}, {rejected(3)}}).rejected_dropped, 0u);
  EXPECT_EQ(store({{contact(1)}, {rejected(4), rejected(5)}}).rejected_dropped, 2u);
  EXPECT_EQ(reasons(listed()), (std::vector<std::string>{"Missing required value 3", "Missing required value 4",
                                                         "Missing required value 5"}));
  // A single request with more than the bound keeps its newest.
  EXPECT_EQ(store({{}, {rejected(6), rejected(7), rejected(8), rejected(9)}}).rejected_dropped, 4u);
  EXPECT_EQ(reasons(listed()), (std::vector<std::string>{"Missing required value 7", "Missing required value 8",
                                                         "Missing required value 9"}));
  EXPECT_EQ(queue_->depth(), 1u);  // the records of the request are never dropped

  // With gaps in the ids (some replayed), the bound still counts events, not ids.
  auto events = listed();
  auto settled = queue_->settle_rejected_events({RejectedEventOutcome{events[1].id, contact(2), std::nullopt}});
  ASSERT_TRUE(settled);
  EXPECT_EQ(store({{}, {rejected(10)}}).rejected_dropped, 0u);
  EXPECT_EQ(store({{}, {rejected(11)}}).rejected_dropped, 1u);
  EXPECT_EQ(reasons(listed()), (std::vector<std::string>{"Missing required value 9", "Missing required value 10",
                                                         "Missing required value 11"}));
}

TEST_P(QueueContract, RejectedEventsSelectedBySinceSourceLimitAndPage) {
  reopen();
  store({{}, {rejected(1), rejected(2, "app")}});
  now_ += 60'000;
  store({{}, {rejected(3), rejected(4, "app"), rejected(5)}});
  EXPECT_EQ(listed().size(), 5u);
  RejectedEventSelection later;
  later.since = now_.load();
  EXPECT_EQ(reasons(listed(later)), (std::vector<std::string>{"Missing required value 3", "Missing required value 4",
                                                              "Missing required value 5"}));
  RejectedEventSelection app;
  app.source = "app";
  EXPECT_EQ(reasons(listed(app)), (std::vector<std::string>{"Missing required value 2", "Missing required value 4"}));
  app.since = now_.load();
  EXPECT_EQ(reasons(listed(app)), (std::vector<std::string>{"Missing required value 4"}));
  RejectedEventSelection page;
  page.limit = 2;
  const auto first = listed(page);
  ASSERT_EQ(first.size(), 2u);
  page.after_id = first.back().id;
  EXPECT_EQ(reasons(listed(page)), (std::vector<std::string>{"Missing required value 3", "Missing required value 4"}));
}

TEST_P(QueueContract, RejectedEventsSettlingEnqueuesWhatTransformsNowAndUpdatesTheReasonOfTheRest) {
  auto& q = reopen();
  store({{}, {rejected(1), rejected(2), rejected(3)}});
  const auto events = listed();
  ASSERT_EQ(events.size(), 3u);
  store({{}, {rejected(4)}});
  auto settled = q.settle_rejected_events({RejectedEventOutcome{events[0].id, contact(1), std::nullopt},
                                           RejectedEventOutcome{events[2].id, std::nullopt, "still wrong"},
                                           RejectedEventOutcome{listed().back().id, std::nullopt, std::nullopt}});
  ASSERT_TRUE(settled) << settled.error().message;
  EXPECT_EQ(settled->enqueued, 1u);
  EXPECT_EQ(settled->still_rejected, 1u);
  EXPECT_EQ(settled->skipped, 1u);  // removed, nothing to send
  EXPECT_EQ(settled->gone, 0u);
  EXPECT_EQ(q.depth(), 1u);
  auto leased = q.lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 1u);
  EXPECT_EQ(leased->records[0].json, contact(1).json);
  const auto left = listed();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].event.reason, "Missing required value 2");
  EXPECT_EQ(left[1].event.reason, "still wrong");
  EXPECT_EQ(left[1].rejected_at, events[2].rejected_at);

  // An event no longer stored (replayed by another run meanwhile) never becomes a second record.
  settled = q.settle_rejected_events({RejectedEventOutcome{events[0].id, contact(1), std::nullopt},
                                      RejectedEventOutcome{events[0].id, std::nullopt, "x"}});
  ASSERT_TRUE(settled);
  EXPECT_EQ(settled->enqueued, 0u);
  EXPECT_EQ(settled->gone, 2u);
  EXPECT_EQ(q.depth(), 1u);
}

TEST_P(QueueContract, RejectedEventsARecordThatIsTooLargeIsRefusedAndNothingIsStored) {
  auto& q = reopen();
  NewRecord huge = contact(1);
  huge.json = std::string(70 * 1024, 'x');
  auto refused = q.store({{huge}, {rejected(1)}}).get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, omt::errc::too_large);
  EXPECT_TRUE(listed().empty());
}

// ---- lanes and their totals ----

std::vector<NewRecord> in_lane(std::vector<NewRecord> records, Lane lane) {
  for (auto& r : records) r.lane = lane;
  return records;
}

// The partition of (key, contact, lane), waiting or drained; nullptr when stats list none.
const omt::queue::PartitionStats* partition(const omt::queue::QueueStats& stats, const std::string& key, Lane lane) {
  for (const auto* list : {&stats.partitions, &stats.drained}) {
    for (const auto& p : *list) {
      if (p.api_key == key && p.type == RecordType::contact && p.lane == lane) return &p;
    }
  }
  return nullptr;
}

TEST_P(QueueContract, EachLanesDepthIsCountedApartAndCheapAndRecountedOnOpen) {
  auto& q = reopen();
  enqueue(q, in_lane(contacts("k", 0, 2), Lane::live));
  enqueue(q, in_lane(contacts("k", 2, 3), Lane::backfill));
  EXPECT_EQ(q.depth(), 5u);
  EXPECT_EQ(q.lane_depth(Lane::live), 2u);
  EXPECT_EQ(q.lane_depth(Lane::backfill), 3u);
  auto backfill = q.lease("k", RecordType::contact, Lane::backfill, 10, 30s);
  ASSERT_TRUE(backfill);
  ASSERT_EQ(backfill->records.size(), 3u);
  ASSERT_EQ(*q.ack({backfill->records[0].id}), 1u);
  ASSERT_EQ(*q.dead_letter({backfill->records[1].id}, "HTTP 400"), 1u);
  EXPECT_EQ(q.lane_depth(Lane::backfill), 1u);
  EXPECT_EQ(q.lane_depth(Lane::live), 2u);
  // A replayed dead letter comes back in the live lane.
  ASSERT_EQ(*q.replay({}), 1u);
  EXPECT_EQ(q.lane_depth(Lane::live), 3u);
  EXPECT_EQ(q.lane_depth(Lane::backfill), 1u);
  auto& again = reopen();
  EXPECT_EQ(again.lane_depth(Lane::live), 3u);
  EXPECT_EQ(again.lane_depth(Lane::backfill), 1u);
  // Ingest's high-water mark counts the live lane only.
  QueueSettings low_mark;
  low_mark.high_water_mark = 3;
  auto low = open(low_mark);
  ASSERT_TRUE(low);
  EXPECT_TRUE(low->over_high_water());
  ASSERT_EQ(*low->release_key("k", "gone"), 4u);
  EXPECT_EQ(low->lane_depth(Lane::live), 0u);
  EXPECT_EQ(low->lane_depth(Lane::backfill), 0u);
  EXPECT_FALSE(low->over_high_water());
}

TEST_P(QueueContract, LaneTotalsCountWhatWasDeliveredAndDeadLetteredAndOutliveTheProcess) {
  auto& q = reopen();
  enqueue(q, in_lane(contacts("k", 0, 2), Lane::live));
  enqueue(q, in_lane(contacts("k", 2, 4), Lane::backfill));
  auto live = q.lease("k", RecordType::contact, Lane::live, 10, 30s);
  auto backfill = q.lease("k", RecordType::contact, Lane::backfill, 10, 30s);
  ASSERT_TRUE(live && backfill);
  ASSERT_EQ(*q.ack(ids_of(live->records)), 2u);
  ASSERT_EQ(*q.ack({backfill->records[0].id, backfill->records[1].id}), 2u);
  ASSERT_EQ(*q.dead_letter({backfill->records[2].id}, "HTTP 400"), 1u);
  ASSERT_EQ(*q.ack({backfill->records[0].id}), 0u);  // acked already: counted once

  auto& again = reopen();
  auto stats = again.stats();
  ASSERT_TRUE(stats) << stats.error().message;
  const auto* drained = partition(*stats, "k", Lane::live);
  ASSERT_TRUE(drained);
  EXPECT_EQ(drained->depth, 0u);
  EXPECT_EQ(drained->delivered, 2u);
  EXPECT_EQ(drained->dead_lettered, 0u);
  ASSERT_EQ(stats->drained.size(), 1u);  // the live lane: nothing waits there
  const auto* waiting = partition(*stats, "k", Lane::backfill);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->depth, 1u);
  EXPECT_EQ(waiting->delivered, 2u);
  EXPECT_EQ(waiting->dead_lettered, 1u);
  ASSERT_EQ(stats->partitions.size(), 1u);

  // Released records are dead-lettered in their lane's total too.
  ASSERT_EQ(*again.release_key("k", "the key is gone"), 1u);
  stats = again.stats();
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->partitions.empty());
  ASSERT_EQ(stats->drained.size(), 2u);
  EXPECT_EQ(stats->drained[0].lane, Lane::live);  // ordered by key, type, lane
  EXPECT_EQ(stats->drained[1].dead_lettered, 2u);
}

// ---- imports ----

omt::queue::NewImportRun import_of(const std::string& run_key) {
  return {run_key, "shop", R"({"inputs":["a.jsonl","b.jsonl"]})",
          {{"a.jsonl", 100, std::string(64, 'a')}, {"b.jsonl", 200, std::string(64, 'b')}}};
}

ImportCheckpoint checkpoint_of(const ImportRun& run, std::uint32_t file, std::uint64_t offset, std::uint64_t records,
                               bool done = false) {
  ImportCheckpoint c;
  c.run_id = run.id;
  c.file_index = file;
  c.pass = 1;
  c.offset = offset;
  c.line = offset / 10;
  c.records = records;
  c.done = done;
  return c;
}

TEST_P(QueueContract, AnImportsRecordsAndCheckpointAreStoredTogetherAndOutliveTheProcess) {
  auto& q = reopen();
  auto run = q.start_import_run(import_of("run-a"));
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->state, ImportState::running);
  EXPECT_EQ(run->records, 0u);
  ASSERT_TRUE(q.start_import_run(import_of("run-b")));
  auto ids = q.enqueue_import(in_lane(contacts("k", 0, 3), Lane::backfill), checkpoint_of(*run, 0, 30, 3)).get();
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(ids->size(), 3u);
  ASSERT_TRUE(q.enqueue_import(in_lane(contacts("k", 3, 2), Lane::backfill), checkpoint_of(*run, 0, 50, 5)).get());
  ASSERT_TRUE(q.enqueue_import({}, checkpoint_of(*run, 1, 0, 0, /*done=*/true)).get());  // a checkpoint only
  EXPECT_EQ(q.lane_depth(Lane::backfill), 5u);
  now_ += 1000;
  ASSERT_TRUE(q.set_import_run_state(run->id, ImportState::interrupted));

  auto& again = reopen();
  auto runs = again.import_runs("run-a");
  ASSERT_TRUE(runs) << runs.error().message;
  ASSERT_EQ(runs->size(), 1u);
  const ImportRun& stored = (*runs)[0];
  EXPECT_EQ(stored.id, run->id);
  EXPECT_EQ(stored.source, "shop");
  EXPECT_EQ(stored.arguments, R"({"inputs":["a.jsonl","b.jsonl"]})");
  EXPECT_EQ(stored.state, ImportState::interrupted);
  EXPECT_EQ(stored.records, 5u);
  EXPECT_EQ(stored.started_at, run->started_at);
  EXPECT_EQ(stored.updated_at, run->started_at + 1000);
  ASSERT_EQ(stored.files.size(), 2u);
  EXPECT_EQ(stored.files[1].path, "b.jsonl");
  EXPECT_EQ(stored.files[1].size, 200u);
  EXPECT_EQ(stored.files[1].head_hash, std::string(64, 'b'));
  ASSERT_EQ(stored.checkpoints.size(), 2u);  // one row per file and pass, rewritten
  EXPECT_EQ(stored.checkpoints[0].file_index, 0u);
  EXPECT_EQ(stored.checkpoints[0].offset, 50u);
  EXPECT_EQ(stored.checkpoints[0].line, 5u);
  EXPECT_EQ(stored.checkpoints[0].records, 5u);
  EXPECT_FALSE(stored.checkpoints[0].done);
  EXPECT_EQ(stored.checkpoints[1].file_index, 1u);
  EXPECT_TRUE(stored.checkpoints[1].done);
  EXPECT_EQ(again.lane_depth(Lane::backfill), 5u);
  auto all = again.import_runs("");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].run_key, "run-b");
}

TEST_P(QueueContract, AnImportWriteThatFailsStoresNeitherItsRecordsNorItsCheckpoint) {
  auto& q = reopen();
  auto run = q.start_import_run(import_of("run-a"));
  ASSERT_TRUE(run);
  ASSERT_TRUE(q.enqueue_import(in_lane(contacts("k", 0, 2), Lane::backfill), checkpoint_of(*run, 0, 20, 2)).get());
  // A checkpoint of a run that does not exist: the records with it are not stored either.
  ImportCheckpoint unknown = checkpoint_of(*run, 0, 40, 4);
  unknown.run_id = run->id + 100;
  auto refused = q.enqueue_import(in_lane(contacts("k", 2, 2), Lane::backfill), unknown).get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, omt::errc::not_found);
  // A record too large for a push: refused whole.
  auto huge = in_lane(contacts("k", 4, 1), Lane::backfill);
  huge[0].json = std::string(70 * 1024, 'x');
  auto too_large = q.enqueue_import(huge, checkpoint_of(*run, 0, 60, 3)).get();
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, omt::errc::too_large);
  EXPECT_EQ(q.lane_depth(Lane::backfill), 2u);
  EXPECT_FALSE(q.set_import_run_state(run->id + 100, ImportState::finished));

  auto& again = reopen();
  EXPECT_EQ(again.depth(), 2u);
  auto runs = again.import_runs("run-a");
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].records, 2u);
  ASSERT_EQ((*runs)[0].checkpoints.size(), 1u);
  EXPECT_EQ((*runs)[0].checkpoints[0].offset, 20u);
}

// ---- the request log ----

using omt::test::logged_push;

void log_and_wait(omt::queue::RequestLog& log, std::vector<omt::queue::RequestLogEntry> entries) {
  std::promise<std::string> written;
  log.log_pushes(std::move(entries), [&written](const omt::Error* err) { written.set_value(err ? err->message : ""); });
  EXPECT_EQ(written.get_future().get(), "");
}

omt::queue::RequestLogSelection oldest_first(std::size_t limit = 0, std::int64_t after_id = 0) {
  omt::queue::RequestLogSelection which;
  which.newest_first = false;
  which.limit = limit;
  which.after_id = after_id;
  return which;
}

std::vector<int> records_of(const std::vector<omt::queue::LoggedRequest>& logged) {
  std::vector<int> out;
  for (const auto& l : logged) out.push_back(static_cast<int>(l.entry.records));
  return out;
}

TEST_P(QueueContract, TheRequestLogKeepsEveryFieldAndOutlivesTheProcess) {
  {
    auto q = open();
    ASSERT_TRUE(q);
    auto* log = q->request_log();
    ASSERT_NE(log, nullptr);
    log_and_wait(*log, {logged_push(1), logged_push(2, "web, app", 0)});
  }
  auto q = open();
  ASSERT_TRUE(q);
  auto logged = q->request_log()->logged_requests(oldest_first());
  ASSERT_TRUE(logged) << logged.error().message;
  ASSERT_EQ(logged->size(), 2u);
  EXPECT_EQ((*logged)[0].entry, logged_push(1));
  EXPECT_EQ((*logged)[1].entry, logged_push(2, "web, app", 0));
  EXPECT_LT((*logged)[0].id, (*logged)[1].id);
}

TEST_P(QueueContract, TheRequestLogIsBoundedTheOldestDroppedFirst) {
  QueueSettings s;
  s.max_request_log = 3;
  auto q = open(s);
  ASSERT_TRUE(q);
  auto* log = q->request_log();
  ASSERT_NE(log, nullptr);
  log_and_wait(*log, {logged_push(1), logged_push(2)});
  log_and_wait(*log, {logged_push(3), logged_push(4), logged_push(5)});
  auto newest = log->logged_requests({});
  ASSERT_TRUE(newest);
  EXPECT_EQ(records_of(*newest), (std::vector<int>{5, 4, 3}));
  auto page = log->logged_requests(oldest_first(2));
  ASSERT_TRUE(page);
  EXPECT_EQ(records_of(*page), (std::vector<int>{3, 4}));
  auto rest = log->logged_requests(oldest_first(0, page->back().id));
  ASSERT_TRUE(rest);
  EXPECT_EQ(records_of(*rest), (std::vector<int>{5}));
}

TEST_P(QueueContract, TheRequestLogIsSelectedBySourceTimeAndStatus) {
  auto q = open();
  ASSERT_TRUE(q);
  auto* log = q->request_log();
  ASSERT_NE(log, nullptr);
  log_and_wait(*log, {logged_push(1, "web"), logged_push(2, "web, app", 500), logged_push(3, "application", 0),
                      logged_push(4, "app", 202)});
  omt::queue::RequestLogSelection which;
  which.source = "app";
  auto app = log->logged_requests(which);
  ASSERT_TRUE(app);
  EXPECT_EQ(records_of(*app), (std::vector<int>{4, 2}));  // a whole name, never a part of one
  which = {};
  which.since = logged_push(3).at;
  auto since = log->logged_requests(which);
  ASSERT_TRUE(since);
  EXPECT_EQ(records_of(*since), (std::vector<int>{4, 3}));
  which = {};
  which.status_from = 500;
  which.status_to = 599;
  auto failed = log->logged_requests(which);
  ASSERT_TRUE(failed);
  EXPECT_EQ(records_of(*failed), (std::vector<int>{2}));
  which.status_from = 0;
  which.status_to = 0;
  auto unanswered = log->logged_requests(which);
  ASSERT_TRUE(unanswered);
  EXPECT_EQ(records_of(*unanswered), (std::vector<int>{3}));
}

// ---- the asynchronous forms (queue.hpp's contract: callbacks once each, on the queue's thread, in the order
// submitted; a callback may start further operations, as it only queues them) ----

// Collects the answers of asynchronous operations started without waiting, and waits for all of them.
class Answers {
 public:
  // A callback for operation `index`: notes the order of the answer and whether it came on a queue thread.
  template <class T>
  omt::queue::Done<T> expect(std::size_t index, std::function<void(omt::Expected<T>&)> check = {}) {
    {
      std::lock_guard lock(mutex_);
      ++expected_;
    }
    return [this, index, check](omt::Expected<T> result) {
      if (check) check(result);
      std::lock_guard lock(mutex_);
      order_.push_back(index);
      on_queue_thread_ = on_queue_thread_ && omt::queue::on_queue_thread();
      changed_.notify_all();
    };
  }
  // True when every expected answer came within the time.
  bool wait(std::chrono::seconds within = 30s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, within, [this] { return order_.size() >= expected_; });
  }
  std::vector<std::size_t> order() {
    std::lock_guard lock(mutex_);
    return order_;
  }
  bool all_on_queue_thread() {
    std::lock_guard lock(mutex_);
    return on_queue_thread_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t expected_ = 0;
  std::vector<std::size_t> order_;
  bool on_queue_thread_ = true;
};

TEST_P(QueueContract, AsynchronousOperationsAnswerOnceEachOnTheQueuesThreadInTheOrderSubmitted) {
  auto q = open();
  ASSERT_TRUE(q);
  const auto ids = enqueue(*q, contacts("a", 0, 5));
  ASSERT_EQ(ids.size(), 5u);
  std::vector<std::vector<RecordId>> leased(3);
  std::size_t acked = 0, rescheduled = 0;
  Answers answers;
  // Submitted one after the other without waiting: a partition's records go out in id order, lease after lease.
  for (std::size_t i = 0; i < 3; ++i) {
    q->lease("a", RecordType::contact, omt::queue::Lane::live, 2, 30s,
             answers.expect<omt::queue::Leased>(i, [&, i](omt::Expected<omt::queue::Leased>& r) {
               ASSERT_TRUE(r) << r.error().message;
               leased[i] = ids_of(r->records);
             }));
  }
  q->ack({ids[0], ids[1]}, answers.expect<std::size_t>(3, [&](omt::Expected<std::size_t>& r) { acked = r.value_or(99); }));
  q->reschedule({ids[2]}, 0ms, answers.expect<std::size_t>(4, [&](omt::Expected<std::size_t>& r) { rescheduled = r.value_or(99); }));
  ASSERT_TRUE(answers.wait());
  EXPECT_EQ(answers.order(), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(answers.all_on_queue_thread());
  EXPECT_EQ(leased[0], (std::vector<RecordId>{ids[0], ids[1]}));
  EXPECT_EQ(leased[1], (std::vector<RecordId>{ids[2], ids[3]}));
  EXPECT_EQ(leased[2], (std::vector<RecordId>{ids[4]}));
  EXPECT_EQ(acked, 2u);
  EXPECT_EQ(rescheduled, 1u);
  EXPECT_EQ(q->depth(), 3u);
  // The rescheduled record is due again at once, with one attempt more.
  auto again = q->lease("a", RecordType::contact, 10, 30s);
  ASSERT_TRUE(again);
  ASSERT_EQ(ids_of(again->records), (std::vector<RecordId>{ids[2]}));
  EXPECT_EQ(again->records[0].attempts, 1u);
}

TEST_P(QueueContract, ConcurrentAsynchronousLeasesNeverHandOutARecordTwice) {
  auto q = open();
  ASSERT_TRUE(q);
  for (int e = 0; e < 20; ++e) enqueue(*q, contacts("a", e * 10, 10));
  std::mutex mutex;
  std::multiset<RecordId> handed_out;
  Answers answers;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int l = 0; l < 30; ++l) {
        q->lease("a", RecordType::contact, omt::queue::Lane::live, 5, 1h,
                 answers.expect<omt::queue::Leased>(static_cast<std::size_t>(t * 100 + l), [&](omt::Expected<omt::queue::Leased>& r) {
                   ASSERT_TRUE(r) << r.error().message;
                   std::lock_guard lock(mutex);
                   for (const auto& record : r->records) handed_out.insert(record.id);
                 }));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(answers.wait());
  EXPECT_EQ(answers.order().size(), 120u);  // each callback once
  std::lock_guard lock(mutex);
  EXPECT_EQ(handed_out.size(), 200u);  // 600 asked for: every record once, none twice
  EXPECT_EQ(std::set<RecordId>(handed_out.begin(), handed_out.end()).size(), handed_out.size());
}

TEST_P(QueueContract, ACallbackMayStartFurtherOperationsWithoutDeadlock) {
  auto q = open();
  ASSERT_TRUE(q);
  enqueue(*q, contacts("a", 0, 3));
  std::promise<std::pair<std::size_t, std::uint64_t>> finished;  // (acked, depth after)
  // lease -> (its callback) ack -> (its callback) stats: each started on the queue's thread, none waited for there.
  q->lease("a", RecordType::contact, omt::queue::Lane::live, 10, 30s, [&](omt::Expected<omt::queue::Leased> leased) {
    if (!leased) return finished.set_value({0, 99});
    q->ack(ids_of(leased->records), [&](omt::Expected<std::size_t> acked) {
      const std::size_t n = acked.value_or(0);
      q->stats([&, n](omt::Expected<omt::queue::QueueStats> stats) {
        finished.set_value({n, stats ? stats->depth : 99});
      });
    });
  });
  auto future = finished.get_future();
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(future.get(), (std::pair<std::size_t, std::uint64_t>{3, 0}));
}

TEST_P(QueueContract, ARefusedAsynchronousOperationIsAnsweredOnceAtOnce) {
  auto q = open();
  ASSERT_TRUE(q);
  std::vector<RejectedEventOutcome> outcomes(1);
  outcomes[0].id = 1;
  outcomes[0].record = NewRecord{"a", RecordType::contact, std::string(70 * 1024, 'x')};
  int calls = 0;
  q->settle_rejected_events(std::move(outcomes), [&](omt::Expected<omt::queue::RejectedEventsSettled> settled) {
    ++calls;
    ASSERT_FALSE(settled);
    EXPECT_EQ(settled.error().code, omt::errc::too_large);
  });
  EXPECT_EQ(calls, 1);  // before the call returned, on this thread
}

INSTANTIATE_TEST_SUITE_P(Backends, QueueContract, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const ::testing::TestParamInfo<Backend>& param_info) {
                           return param_info.param == Backend::sqlite ? std::string("Sqlite") : std::string("Postgres");
                         });

}  // namespace
