// What only the PostgreSQL queue does, against a real server the tests start (support/postgres_server.hpp): its
// schema version, clear errors for a bad URL or an unreachable server, a lost connection (the server restarted)
// replaced and a server that is down retried with backoff (and its health), a server that stops answering failed
// after the client's own timeout, leases as rows that two queue objects on one database never share, lanes stored
// with the records, delivery's calls that queue up together committed in one transaction (and each alone when one
// of them fails), a version 1 database migrated with its records kept, partition floors (raised past acked
// records, never past a record whose transaction is open, forgotten by a replay), and the run lock an import holds
// (PostgresRunLock) ending with its process. The contract it shares with SQLite is in test_queue_contract.cpp.
#include <gtest/gtest.h>

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"
#include "queue_records.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::Lane;
using omt::queue::NewRecord;
using omt::queue::PostgresQueue;
using omt::queue::PostgresQueueOptions;
using omt::queue::RecordId;
using omt::queue::RecordType;
using omt::test::PostgresServer;

using omt::test::contacts;

// One statement on the test's database, outside the queue; the first value of the answer.
std::string sql(const std::string& url, const std::string& statement) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn.get(), statement.c_str()), &PQclear);
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) throw std::runtime_error(PQresultErrorMessage(r.get()));
  return status == PGRES_TUPLES_OK && PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

class PostgresQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = PostgresServer::shared().create_database(); }
  PostgresQueueOptions options(const std::string& owner = "instance-a") {
    PostgresQueueOptions o;
    o.url = url_;
    o.lease_owner = owner;
    o.clock = [this] { return now_.load(); };
    return o;
  }
  std::unique_ptr<PostgresQueue> open(PostgresQueueOptions o) {
    auto q = PostgresQueue::open(std::move(o));
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  static std::vector<RecordId> enqueue(PostgresQueue& q, std::vector<NewRecord> records) {
    return omt::test::enqueue_acknowledged(q, std::move(records));
  }
  // A queue whose statements time out after `timeout`, holding `records` contacts of key "k".
  std::unique_ptr<PostgresQueue> open_with_timeout(std::chrono::milliseconds timeout, int records) {
    auto o = options();
    o.statement_timeout = timeout;
    auto q = open(o);
    if (q) enqueue(*q, contacts("k", 0, records));
    return q;
  }
  // Another session holding the records table locked, in a transaction left open until it is rolled back.
  std::unique_ptr<PGconn, void (*)(PGconn*)> lock_the_records_table() {
    std::unique_ptr<PGconn, void (*)(PGconn*)> locker(PQconnectdb(url_.c_str()), &PQfinish);
    EXPECT_EQ(PQstatus(locker.get()), CONNECTION_OK);
    PQclear(PQexec(locker.get(), "BEGIN; LOCK TABLE records IN ACCESS EXCLUSIVE MODE"));
    return locker;
  }

  std::string url_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
};

TEST_F(PostgresQueueTest, ANewDatabaseGetsTheTablesAtTheCurrentSchemaVersionAndANewerOneIsRefused) {
  ASSERT_TRUE(open(options()));
  EXPECT_EQ(sql(url_, "SELECT version FROM schema_version"), "7");
  EXPECT_EQ(sql(url_, "SELECT reloptions FROM pg_class WHERE relname = 'records'"), "{fillfactor=100}");
  ASSERT_TRUE(open(options()));  // opening again migrates nothing
  EXPECT_EQ(sql(url_, "SELECT COUNT(*) FROM schema_version"), "1");
  sql(url_, "UPDATE schema_version SET version = 99");
  auto newer = PostgresQueue::open(options());
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message.find("schema version 99, newer than this build knows (7)"), std::string::npos)
      << newer.error().message;
}

// The scan for ready partitions stops counting at the bound asked (the contract allows it; PostgreSQL does it, so
// that a scan of a deep queue reads a few pushes' worth per partition), and counts exactly below it.
TEST_F(PostgresQueueTest, AScanForReadyPartitionsStopsCountingAtTheBoundAsked) {
  auto q = open(options());
  ASSERT_TRUE(q);
  enqueue(*q, contacts("k", 0, 7));
  auto bounded = q->ready_partitions(3);
  ASSERT_TRUE(bounded);
  ASSERT_EQ(bounded->size(), 1u);
  EXPECT_EQ((*bounded)[0].ready, 3u);
  auto unbounded = q->ready_partitions(0);
  ASSERT_TRUE(unbounded);
  ASSERT_EQ(unbounded->size(), 1u);
  EXPECT_EQ((*unbounded)[0].ready, 7u);
}

TEST_F(PostgresQueueTest, ABadUrlOrAnUnreachableServerIsAClearErrorAtOpen) {
  auto o = options();
  o.url = "postgresql://omt@127.0.0.1:notaport/x";
  auto bad = PostgresQueue::open(o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("queue: postgres"), std::string::npos) << bad.error().message;

  o.url = "host=127.0.0.1 port=1 user=omt dbname=omt password=secret-word";
  o.connect_timeout = 2s;
  auto unreachable = PostgresQueue::open(o);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, omt::errc::io);
  EXPECT_NE(unreachable.error().message.find("queue: postgres: cannot connect to omt@127.0.0.1:1/omt"), std::string::npos)
      << unreachable.error().message;
  EXPECT_EQ(unreachable.error().message.find("secret-word"), std::string::npos) << unreachable.error().message;
}

TEST_F(PostgresQueueTest, ALostConnectionIsReplacedAndAServerThatIsDownIsRetriedWithBackoff) {
  auto q = open(options());
  ASSERT_TRUE(q);
  const auto ids = enqueue(*q, contacts("k", 0, 3));
  EXPECT_EQ(q->health().backend, "postgres");
  EXPECT_EQ(q->health().state, omt::queue::QueueHealth::State::ok);
  EXPECT_EQ(q->health().since, now_.load());
  // Restarted while the connection was idle: nothing had begun on it, so the operation runs on a new one.
  PostgresServer::shared().restart();
  auto stats = q->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->depth, 3u);
  const auto more = enqueue(*q, contacts("k", 3, 2));
  ASSERT_EQ(more.size(), 2u);
  EXPECT_GT(more[0], ids.back());

  // Down: the operation that meets it fails within its timeouts instead of hanging; until the next attempt to
  // connect (100 ms, doubling up to 5 s) the others fail at once without connecting, and the queue object survives.
  PostgresServer::shared().stop();
  now_ += 1000;
  auto down = q->enqueue(contacts("k", 5, 1)).get();
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, omt::errc::io);
  const auto health = q->health();
  EXPECT_EQ(health.state, omt::queue::QueueHealth::State::unavailable);
  EXPECT_EQ(health.since, now_.load());
  EXPECT_NE(health.error.find("cannot connect to"), std::string::npos) << health.error;
  auto at_once = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_FALSE(at_once);
  EXPECT_EQ(at_once.error().code, omt::errc::unavailable);
  EXPECT_NE(at_once.error().message.find("the database is unreachable (next attempt to connect in"), std::string::npos)
      << at_once.error().message;
  PostgresServer::shared().start();
  std::this_thread::sleep_for(500ms);  // past the backoff step (at most 200 ms after two failed attempts)
  auto leased = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased) << leased.error().message;
  EXPECT_EQ(leased->records.size(), 5u);
  EXPECT_EQ(q->health().state, omt::queue::QueueHealth::State::ok);
  EXPECT_EQ(q->health().error, "");
}

TEST_F(PostgresQueueTest, TwoQueueObjectsOnOneDatabaseNeverLeaseTheSameRecord) {
  auto a = open(options("instance-a"));
  auto b = open(options("instance-b"));
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 20; ++i) enqueue(*a, contacts("k", i * 10, 10));
  std::mutex mutex;
  std::multiset<RecordId> leased;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (PostgresQueue* q : {a.get(), b.get(), a.get(), b.get()}) {
    threads.emplace_back([&, q] {
      for (;;) {
        auto got = q->lease("k", RecordType::contact, 7, 1h);
        if (!got) {
          ++failures;
          return;
        }
        if (got->records.empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& r : got->records) leased.insert(r.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(leased.size(), 200u);
  EXPECT_EQ(std::set<RecordId>(leased.begin(), leased.end()).size(), 200u) << "a record was leased twice";
}

TEST_F(PostgresQueueTest, ARestartedInstanceTakesBackItsOwnLeasesAndLeavesOthersUntilTheyEnd) {
  auto a = open(options("instance-a"));
  auto b = open(options("instance-b"));
  ASSERT_TRUE(a && b);
  enqueue(*a, contacts("k", 0, 4));
  ASSERT_EQ(a->lease("k", RecordType::contact, 2, 1min)->records.size(), 2u);
  ASSERT_EQ(b->lease("k", RecordType::contact, 2, 1min)->records.size(), 2u);
  a.reset();
  auto again = open(options("instance-a"));  // instance-a restarted
  ASSERT_TRUE(again);
  EXPECT_EQ(again->lease("k", RecordType::contact, 10, 1h)->records.size(), 2u);  // its own two, not b's
  auto inspect = options("instance-a");
  inspect.take_over_leases = false;  // an operator command beside a running instance takes nothing over
  ASSERT_TRUE(open(inspect));
  EXPECT_TRUE(again->lease("k", RecordType::contact, 10, 1h)->records.empty());
  now_ += 60'000;  // b's lease ends
  EXPECT_EQ(again->lease("k", RecordType::contact, 10, 1h)->records.size(), 2u);
}

TEST_F(PostgresQueueTest, RecordsKeepTheirLane) {
  auto q = open(options());
  ASSERT_TRUE(q);
  auto records = contacts("k", 0, 2);
  records[1].lane = Lane::backfill;
  enqueue(*q, records);
  // A lease reads one lane.
  auto live = q->lease("k", RecordType::contact, Lane::live, 10, 30s);
  ASSERT_TRUE(live);
  ASSERT_EQ(live->records.size(), 1u);
  EXPECT_EQ(live->records[0].lane, Lane::live);
  auto leased = q->lease("k", RecordType::contact, Lane::backfill, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 1u);
  EXPECT_EQ(leased->records[0].lane, Lane::backfill);
  leased->records.insert(leased->records.begin(), live->records[0]);
  auto stats = q->stats();
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->partitions.size(), 2u);
  EXPECT_EQ(stats->partitions[0].lane, Lane::live);
  EXPECT_EQ(stats->partitions[1].lane, Lane::backfill);
  ASSERT_EQ(*q->dead_letter({leased->records[1].id}, "refused"), 1u);
  EXPECT_EQ(q->dead_letters({})->at(0).record.lane, Lane::backfill);
}

// Delivery's calls that queue up together (issued here from a callback on delivery's thread, so that all of them
// wait while it is busy) share one transaction; each still gets its own answer. An enqueue issued among them
// commits on ingest's connection, beside them.
TEST_F(PostgresQueueTest, DeliveryCallsThatQueueUpTogetherCommitInOneTransactionAndAnEnqueueInItsOwn) {
  auto q = open(options());
  ASSERT_TRUE(q);
  enqueue(*q, contacts("k", 0, 6));
  enqueue(*q, contacts("j", 0, 4));
  auto leased = q->lease("k", RecordType::contact, 6, 1h);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 6u);
  std::vector<RecordId> ids;
  for (const auto& r : leased->records) ids.push_back(r.id);
  std::promise<std::size_t> acked_two, acked_one, rescheduled, dead;
  std::promise<std::size_t> leased_j, enqueued;
  const auto commits_before = q->commits();
  std::promise<void> issued;
  q->held_keys([&](auto) {
    q->ack({ids[0], ids[1]}, [&](omt::Expected<std::size_t> n) { acked_two.set_value(n ? *n : 99); });
    q->ack({ids[2]}, [&](omt::Expected<std::size_t> n) { acked_one.set_value(n ? *n : 99); });
    q->reschedule({ids[3]}, 0ms, [&](omt::Expected<std::size_t> n) { rescheduled.set_value(n ? *n : 99); });
    q->enqueue(contacts("n", 0, 2), [&](omt::Expected<std::vector<RecordId>> got) { enqueued.set_value(got ? got->size() : 99); });
    q->dead_letter({ids[4]}, "refused", [&](omt::Expected<std::size_t> n) { dead.set_value(n ? *n : 99); });
    q->lease("j", RecordType::contact, Lane::live, 10, 1h, [&](omt::Expected<omt::queue::Leased> l) {
      leased_j.set_value(l ? l->records.size() : 99);
    });
    issued.set_value();
  });
  issued.get_future().get();
  EXPECT_EQ(acked_two.get_future().get(), 2u);
  EXPECT_EQ(acked_one.get_future().get(), 1u);
  EXPECT_EQ(rescheduled.get_future().get(), 1u);
  EXPECT_EQ(dead.get_future().get(), 1u);
  EXPECT_EQ(leased_j.get_future().get(), 4u);
  EXPECT_EQ(enqueued.get_future().get(), 2u);
  EXPECT_EQ(q->commits() - commits_before, 3u) << "held_keys, then the five delivery calls together, and the enqueue";
  EXPECT_EQ(q->depth(), 8u);  // 10 and 2, less 3 acked and 1 dead-lettered
  EXPECT_EQ(sql(url_, "SELECT delivered FROM lane_totals WHERE api_key = 'k'"), "3");
}

// Enqueues that arrive while ingest's connection is busy (here: its first INSERT waits on a lock another session
// holds) share one transaction: 60 acknowledged events cost a few commits and a few round trips, not 60 of each.
// Every answer awaited from the server is counted in health().round_trips, the figure /metrics shows.
TEST_F(PostgresQueueTest, EnqueuesThatWaitTogetherCommitInOneTransactionAndTheRoundTripsAreCounted) {
  auto o = options();
  o.statement_timeout = 5000ms;
  auto q = open(o);
  ASSERT_TRUE(q);
  enqueue(*q, contacts("k", 0, 1));  // statements prepared, connections open
  const auto trips_before = q->health().round_trips;
  const auto commits_before = q->commits();
  EXPECT_GT(trips_before, 0u);
  auto locker = lock_the_records_table();
  constexpr int kEnqueues = 60;
  std::atomic<int> done{0}, failed{0};
  std::promise<void> all_done;
  for (int i = 0; i < kEnqueues; ++i) {
    q->enqueue(contacts("k", 1 + i, 1), [&](omt::Expected<std::vector<RecordId>> got) {
      if (!got || got->size() != 1) failed.fetch_add(1);
      if (done.fetch_add(1) + 1 == kEnqueues) all_done.set_value();
    });
  }
  std::this_thread::sleep_for(300ms);  // the first waits on the lock; the others gather behind it
  EXPECT_EQ(done.load(), 0) << "nothing commits while the table is locked";
  PQclear(PQexec(locker.get(), "ROLLBACK"));
  ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(failed.load(), 0);
  const auto commits = q->commits() - commits_before;
  const auto trips = q->health().round_trips - trips_before;
  EXPECT_LE(commits, 2u) << "the first enqueue alone, then the rest together";
  EXPECT_LE(trips, 8u) << "a few statements a transaction, not a transaction an event";
  EXPECT_EQ(q->depth(), 1u + kEnqueues);
  EXPECT_EQ(sql(url_, "SELECT COUNT(*) FROM records"), std::to_string(1 + kEnqueues));
}

// A call the server refuses (a reason that is not UTF-8) fails alone: the others gathered with it are done.
TEST_F(PostgresQueueTest, ACallThatFailsInAGroupFailsAloneAndTheOthersAreDone) {
  auto q = open(options());
  ASSERT_TRUE(q);
  enqueue(*q, contacts("k", 0, 3));
  auto leased = q->lease("k", RecordType::contact, 3, 1h);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 3u);
  std::promise<omt::Expected<std::size_t>> acked, dead, acked_after;
  std::promise<void> issued;
  q->held_keys([&](auto) {
    q->ack({leased->records[0].id}, [&](omt::Expected<std::size_t> n) { acked.set_value(n); });
    q->dead_letter({leased->records[1].id}, "not \xff UTF-8", [&](omt::Expected<std::size_t> n) { dead.set_value(n); });
    q->ack({leased->records[2].id}, [&](omt::Expected<std::size_t> n) { acked_after.set_value(n); });
    issued.set_value();
  });
  issued.get_future().get();
  auto a = acked.get_future().get(), d = dead.get_future().get(), b = acked_after.get_future().get();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, 1u);
  EXPECT_EQ(*b, 1u);
  EXPECT_FALSE(d);
  EXPECT_EQ(q->depth(), 1u);
  EXPECT_EQ(sql(url_, "SELECT COUNT(*) FROM records"), "1");
}

// Two instances on one host, neither naming itself: each gets a lease owner of its own (host:pid:random), so the
// second one's start (which hands out its own old leases again) leaves the first one's leases alone.
TEST_F(PostgresQueueTest, InstancesOnOneHostHaveLeaseOwnersOfTheirOwnAndKeepEachOthersLeases) {
  auto unnamed = [this] {
    auto o = options();
    o.lease_owner.clear();
    return o;
  };
  auto first = open(unnamed());
  ASSERT_TRUE(first);
  enqueue(*first, contacts("k", 0, 3));
  auto leased = first->lease("k", RecordType::contact, 10, 1h);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 3u);
  const std::string owner = sql(url_, "SELECT lease_owner FROM record_leases LIMIT 1");
  EXPECT_EQ(owner, first->instance_id());
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(owner.rfind(std::string(host) + ":" + std::to_string(::getpid()) + ":", 0), 0u) << owner;

  auto second = open(unnamed());
  ASSERT_TRUE(second);
  EXPECT_NE(second->instance_id(), first->instance_id());
  auto none = second->lease("k", RecordType::contact, 10, 1h);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->records.empty()) << "the first instance's leases are its own";
  EXPECT_EQ(sql(url_, "SELECT SUM(cardinality(record_ids)) FROM record_leases WHERE lease_owner = '" + owner + "'"), "3");
}

TEST(PostgresInstanceId, NameThenProcessThenEightHexDigits) {
  EXPECT_EQ(omt::queue::unique_instance_id("web-1", 4242, 0x9f3a61c0u), "web-1:4242:9f3a61c0");
  EXPECT_EQ(omt::queue::unique_instance_id("web-1", 7, 1u), "web-1:7:00000001");
}

TEST_F(PostgresQueueTest, AStatementThatWaitsTooLongFailsWithinItsTimeout) {
  auto q = open_with_timeout(300ms, 1);
  ASSERT_TRUE(q);
  // Another session holds the table locked: the queue's statement gives up instead of waiting for it.
  auto locker = lock_the_records_table();
  const auto started = std::chrono::steady_clock::now();
  auto stats = q->stats();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, omt::errc::io);
  EXPECT_LT(took, 5s);
  PQclear(PQexec(locker.get(), "ROLLBACK"));
  EXPECT_TRUE(q->stats());
}

// The queue's sessions on the test's database, by their process ids on the server.
std::vector<pid_t> queue_backends(const std::string& url, const std::string& also_where = "") {
  const std::string listed = sql(url, "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE datname = "
                                      "current_database() AND application_name = 'ometria-transformer'" + also_where);
  std::vector<pid_t> pids;
  for (std::size_t at = 0; at < listed.size();) {
    std::size_t end = listed.find(' ', at);
    if (end == std::string::npos) end = listed.size();
    pids.push_back(static_cast<pid_t>(std::stol(listed.substr(at, end - at))));
    at = end + 1;
  }
  return pids;
}

// A server that stops answering altogether (its backend frozen with SIGSTOP: no statement_timeout or lock_timeout
// can fire, the TCP connection stays open) is the client's own timeout's case: the wait ends after the timeout and
// a second. A BEGIN that got no answer did nothing, so the operation runs again on a new connection; a statement
// inside a transaction that got none fails with the client's error, and the next operation connects anew.
TEST_F(PostgresQueueTest, AServerThatStopsAnsweringFailsTheStatementAfterTheClientsOwnTimeout) {
  auto q = open_with_timeout(1000ms, 2);
  ASSERT_TRUE(q);

  // Frozen while idle: the next BEGIN waits out the client's timeout, then the operation runs on a new session.
  const auto idle = queue_backends(url_);
  ASSERT_FALSE(idle.empty()) << "the queue's sessions were not found in pg_stat_activity";
  for (pid_t pid : idle) ASSERT_EQ(::kill(pid, SIGSTOP), 0) << pid;
  auto started = std::chrono::steady_clock::now();
  auto stats = q->stats();
  auto took = std::chrono::steady_clock::now() - started;
  for (pid_t pid : idle) ::kill(pid, SIGCONT);
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->depth, 2u);
  EXPECT_GE(took, 2000ms);  // the timeout, and the second the client adds for the server's own to fire first
  EXPECT_LT(took, 6s);

  // Frozen inside a transaction (its statement waiting for a lock another session holds, then stopped before the
  // lock_timeout fires): the operation fails with the client's own error, within the timeout and a second.
  auto locker = lock_the_records_table();
  started = std::chrono::steady_clock::now();
  auto waiting = std::async(std::launch::async, [&] { return q->stats(); });
  std::vector<pid_t> blocked;
  while (blocked.empty() && std::chrono::steady_clock::now() - started < 900ms) {
    blocked = queue_backends(url_, " AND wait_event_type = 'Lock'");
    if (blocked.empty()) std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(blocked.size(), 1u) << "the queue's statement never waited for the lock";
  ASSERT_EQ(::kill(blocked[0], SIGSTOP), 0);
  stats = waiting.get();
  took = std::chrono::steady_clock::now() - started;
  ::kill(blocked[0], SIGCONT);
  PQclear(PQexec(locker.get(), "ROLLBACK"));
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, omt::errc::io);
  EXPECT_NE(stats.error().message.find("no answer within 1000 ms"), std::string::npos) << stats.error().message;
  EXPECT_GE(took, 2000ms);
  EXPECT_LT(took, 6s);
  auto again = q->stats();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->depth, 2u);
  EXPECT_EQ(q->health().state, omt::queue::QueueHealth::State::ok);
}

// A database as version 1 left it, made from a current one by hand: no lane totals, imports, request log, key
// owners or lease table, the due index without the lane, and the leases in the records' rows.
TEST_F(PostgresQueueTest, AVersion1DatabaseIsMigratedWithItsRecordsKept) {
  std::vector<RecordId> ids;
  {
    auto q = open(options());
    ASSERT_TRUE(q);
    auto records = contacts("k", 0, 3);
    records[2].lane = Lane::backfill;
    ids = enqueue(*q, records);
  }
  sql(url_,
      "DROP TABLE lane_totals, import_checkpoints, import_files, import_runs, request_log, key_owners,"
      " delivery_instances, record_leases, partition_floors;"
      "ALTER TABLE records ADD COLUMN leased_until BIGINT NOT NULL DEFAULT 0, ADD COLUMN lease_owner TEXT;"
      "DROP INDEX records_by_partition;"
      "CREATE INDEX records_due ON records(api_key, type, next_attempt_at, id);"
      "UPDATE schema_version SET version = 1");
  auto q = open(options());
  ASSERT_TRUE(q);
  EXPECT_EQ(sql(url_, "SELECT version FROM schema_version"), "7");
  EXPECT_EQ(q->lane_depth(Lane::live), 2u);
  EXPECT_EQ(q->lane_depth(Lane::backfill), 1u);
  auto leased = q->lease("k", RecordType::contact, Lane::live, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 2u);
  EXPECT_EQ(leased->records[0].id, ids[0]);
  ASSERT_EQ(*q->ack({ids[0]}), 1u);
  auto stats = q->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  ASSERT_EQ(stats->partitions.size(), 2u);
  EXPECT_EQ(stats->partitions[0].delivered, 1u);
  EXPECT_TRUE(q->import_runs(""));
  EXPECT_TRUE(q->request_log()->logged_requests({}));
}

// Version 5 kept a lease in the record's row. Leases do not survive the move to version 6: a record leased then is
// due again at once (at-least-once: its push, if one is still under way, may deliver it a second time).
TEST_F(PostgresQueueTest, AVersion5DatabaseIsMigratedAndItsRecordsLeasedThenAreDueAgain) {
  std::vector<RecordId> ids;
  {
    auto q = open(options());
    ASSERT_TRUE(q);
    ids = enqueue(*q, contacts("k", 0, 3));
  }
  sql(url_,
      "DROP TABLE record_leases, partition_floors;"
      "ALTER TABLE records ADD COLUMN leased_until BIGINT NOT NULL DEFAULT 0, ADD COLUMN lease_owner TEXT;"
      "ALTER TABLE records SET (fillfactor = 50);"
      "UPDATE records SET leased_until = 9000000000000, lease_owner = 'an-old-instance' WHERE id = " +
          std::to_string(ids[0]) + ";"
      "UPDATE schema_version SET version = 5");
  auto q = open(options());
  ASSERT_TRUE(q);
  EXPECT_EQ(sql(url_, "SELECT version FROM schema_version"), "7");
  EXPECT_EQ(sql(url_, "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'records'"
                      " AND column_name IN ('leased_until', 'lease_owner')"), "0");
  auto leased = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->records.size(), 3u);
  EXPECT_EQ(leased->records[0].id, ids[0]);
  EXPECT_EQ(sql(url_, "SELECT record_ids::text FROM record_leases"),
            "{" + std::to_string(ids[0]) + "," + std::to_string(ids[1]) + "," + std::to_string(ids[2]) + "}");
}

// Partition floors (partition_floors.hpp). The queue steps towards them at every ready scan here; a step runs
// behind its scan on the same connection, so the next scan comes after it.
class PartitionFloorTest : public PostgresQueueTest {
 protected:
  PostgresQueueOptions stepping() {
    auto o = options();
    o.partition_floor_step = 0ms;
    return o;
  }
  // Two steps (a mark, then a raise if it is safe): three scans, as the third waits for the second's step.
  void step_floors(PostgresQueue& q) {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.ready_partitions(0));
  }
  std::string floor() {
    return sql(url_, "SELECT COALESCE((SELECT floor_id::text FROM partition_floors WHERE api_key = 'k'"
                     " AND type = 'contact' AND lane = 0), 'none')");
  }
  static std::vector<RecordId> ids_of(const omt::queue::Leased& leased) {
    std::vector<RecordId> ids;
    for (const auto& r : leased.records) ids.push_back(r.id);
    return ids;
  }
};

TEST_F(PartitionFloorTest, AckedRecordsRaiseTheFloorToTheOldestLeftAndTheRestAreLeasedInOrder) {
  auto q = open(stepping());
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("k", 0, 10));
  auto first = q->lease("k", RecordType::contact, 4, 30s);
  ASSERT_TRUE(first);
  ASSERT_EQ(*q->ack(ids_of(*first)), 4u);
  step_floors(*q);
  EXPECT_EQ(floor(), std::to_string(ids[4]));
  auto rest = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(rest);
  EXPECT_EQ(ids_of(*rest), std::vector<RecordId>(ids.begin() + 4, ids.end()));
  ASSERT_EQ(*q->ack(ids_of(*rest)), 6u);
  step_floors(*q);  // an empty partition: the floor is the sequence's last id, and the next record lies above it
  EXPECT_EQ(floor(), std::to_string(ids.back()));
  auto more = enqueue(*q, contacts("k", 10, 1));
  auto next = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(next);
  EXPECT_EQ(ids_of(*next), more);
}

// A transaction may hold an id from the sequence and commit after records with higher ids: while it is open no
// floor passes it, and once it commits its record is leased first.
TEST_F(PartitionFloorTest, AFloorNeverPassesARecordWhoseTransactionIsStillOpen) {
  auto q = open(stepping());
  ASSERT_TRUE(q);
  auto acked = enqueue(*q, contacts("k", 0, 3));
  ASSERT_EQ(*q->ack(acked), 3u);
  std::unique_ptr<PGconn, void (*)(PGconn*)> open_txn(PQconnectdb(url_.c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(open_txn.get()), CONNECTION_OK);
  auto run = [&](const char* statement) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(open_txn.get(), statement), &PQclear);
    const auto status = PQresultStatus(r.get());
    EXPECT_TRUE(status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) << PQresultErrorMessage(r.get());
    return status == PGRES_TUPLES_OK ? std::string(PQgetvalue(r.get(), 0, 0)) : std::string();
  };
  run("BEGIN");
  const RecordId late = std::stoll(run(
      "INSERT INTO records(api_key, type, lane, json, next_attempt_at, created_at)"
      " VALUES ('k', 'contact', 0, '{\"id\":\"late\"}', 0, 0) RETURNING id"));
  auto later = enqueue(*q, contacts("k", 3, 2));
  ASSERT_LT(late, later[0]);
  for (int i = 0; i < 3; ++i) step_floors(*q);
  EXPECT_EQ(floor(), "none") << "the floor rose while a transaction that started before its mark was open";
  run("COMMIT");
  step_floors(*q);
  EXPECT_EQ(floor(), std::to_string(late));
  auto leased = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  EXPECT_EQ(ids_of(*leased), (std::vector<RecordId>{late, later[0], later[1]}));
}

// A replay or a rekey holds the floors' lock while it puts old ids back: a raise meanwhile waits for the next step.
TEST_F(PartitionFloorTest, NoFloorRisesWhileAReplayOrARekeyHoldsTheFloorsLock) {
  auto q = open(stepping());
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("k", 0, 3));
  ASSERT_EQ(*q->ack({ids[0]}), 1u);
  std::unique_ptr<PGconn, void (*)(PGconn*)> holder(PQconnectdb(url_.c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK);
  auto run = [&](const char* statement) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(holder.get(), statement), &PQclear);
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(r.get());
  };
  run("SELECT pg_advisory_lock(73054813, 0)");  // the lock forget_floors takes, held as a long replay would
  for (int i = 0; i < 3; ++i) step_floors(*q);
  EXPECT_EQ(floor(), "none");
  run("SELECT pg_advisory_unlock(73054813, 0)");
  step_floors(*q);
  EXPECT_EQ(floor(), std::to_string(ids[1]));
}

// The queue vacuums the lease table itself once pushes have come and gone, and leaves an idle queue alone.
TEST_F(PartitionFloorTest, TheLeaseTableIsVacuumedOnceLeasesHaveComeAndGone) {
  auto q = open(stepping());
  ASSERT_TRUE(q);
  auto vacuums = [&] {
    return std::stoi(sql(url_, "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'record_leases'"));
  };
  auto ids = enqueue(*q, contacts("k", 0, 3));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->ready_partitions(0));
  EXPECT_EQ(vacuums(), 0);  // nothing leased yet
  auto leased = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(*q->ack(ids_of(*leased)), 3u);
  ASSERT_TRUE(q->ready_partitions(0));
  int seen = 0;
  for (int i = 0; i < 100 && (seen = vacuums()) == 0; ++i) {  // the statistics reach other sessions with a delay
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(q->ready_partitions(0));
  }
  EXPECT_EQ(seen, 1) << "vacuumed once: the next is due 2 s later";
}

// A rekey moves a held key's records, with their old ids, under a key whose floor has passed them: the floors go
// first, and the moved records are leased first.
TEST_F(PartitionFloorTest, ARekeyedKeysOldRecordsBelowTheNewKeysFloorAreLeased) {
  auto q = open(stepping());
  ASSERT_TRUE(q);
  auto old_ids = enqueue(*q, contacts("old", 0, 2));
  auto ids = enqueue(*q, contacts("k", 0, 3));
  ASSERT_EQ(*q->ack({ids[0], ids[1]}), 2u);
  step_floors(*q);
  ASSERT_EQ(floor(), std::to_string(ids[2]));
  auto moved = q->rekey("old", "k");
  ASSERT_TRUE(moved) << moved.error().message;
  ASSERT_EQ(*moved, 2u);
  EXPECT_EQ(floor(), "none");
  auto leased = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  EXPECT_EQ(ids_of(*leased), (std::vector<RecordId>{old_ids[0], old_ids[1], ids[2]}));
}

// A replayed dead letter keeps its id, below the floor its partition reached meanwhile: the floors go first.
TEST_F(PartitionFloorTest, AReplayedDeadLetterBelowTheFloorIsLeasedAgain) {
  auto q = open(stepping());
  ASSERT_TRUE(q);
  auto ids = enqueue(*q, contacts("k", 0, 4));
  ASSERT_EQ(*q->dead_letter({ids[0]}, "refused"), 1u);
  ASSERT_EQ(*q->ack({ids[1], ids[2]}), 2u);
  step_floors(*q);
  EXPECT_EQ(floor(), std::to_string(ids[3]));
  auto replayed = q->replay(omt::queue::DeadLetterSelection{{ids[0]}, 0});
  ASSERT_TRUE(replayed) << replayed.error().message;
  ASSERT_EQ(*replayed, 1u);
  EXPECT_EQ(floor(), "none");
  auto leased = q->lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  EXPECT_EQ(ids_of(*leased), (std::vector<RecordId>{ids[0], ids[3]}));
}

TEST_F(PostgresQueueTest, ARunLockIsHeldByOneSessionAtATimeAndEndsWithItsProcessEvenKilled) {
  const auto o = options();
  {
    auto first = omt::queue::PostgresRunLock::take(o, "import abc");
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_NE(*first, nullptr);
    auto second = omt::queue::PostgresRunLock::take(o, "import abc");
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, nullptr) << "two sessions held one lock";
    auto other = omt::queue::PostgresRunLock::take(o, "import def");
    ASSERT_TRUE(other);
    EXPECT_NE(*other, nullptr) << "another name is another lock";
  }
  auto again = omt::queue::PostgresRunLock::take(o, "import abc");  // released with its object
  ASSERT_TRUE(again && *again);
  again->reset();

  // A process that holds it and is killed: its session ends with it, and the lock is free again.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = omt::queue::PostgresRunLock::take(o, "import abc");
    const char answer = held && *held ? 'y' : 'n';
    (void)!::write(ready[1], &answer, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char answer = 0;
  ASSERT_EQ(::read(ready[0], &answer, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(answer, 'y');
  auto while_held = omt::queue::PostgresRunLock::take(o, "import abc");
  ASSERT_TRUE(while_held);
  EXPECT_EQ(*while_held, nullptr);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  // The server ends the session once it sees the socket closed: soon, not at once.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool free = false;
  while (!free && std::chrono::steady_clock::now() < deadline) {
    auto taken = omt::queue::PostgresRunLock::take(o, "import abc");
    ASSERT_TRUE(taken) << taken.error().message;
    free = *taken != nullptr;
    if (!free) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(free) << "the killed process's lock was never released";
}

}  // namespace
