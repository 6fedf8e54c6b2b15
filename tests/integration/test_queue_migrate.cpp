// `queue migrate` with the real binary: a SQLite queue (both lanes, attempts, a dead letter, a rejected event, a
// held key) moved into a real PostgreSQL (support/postgres_server.hpp) and then served from there to the fake
// Ometria; refused while serve holds the file (and allowed once serve is gone, even killed); refused into a
// target that holds records; a failure midway rolls everything back. The serve lock itself below.
#include <gtest/gtest.h>

#include <libpq-fe.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "delivery_harness.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "omt/queue/queue_file_lock.hpp"
#include "postgres_server.hpp"
#include "tls_fake_ometria.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using ometria::RecordType;
using testing::FakeOmetriaOptions;

const std::string kKey = "key-migrate-secret";
const std::string kHeldKey = "key-held-secret";

// One statement on the target, its first column of every row (or the error, to show in a failed check).
std::vector<std::string> pg_column(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::vector<std::string> values;
  if (PQstatus(conn) != CONNECTION_OK) {
    values.push_back(std::string("connect: ") + PQerrorMessage(conn));
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) values.emplace_back(PQgetvalue(r, i, 0));
    } else {
      values.push_back(std::string("error: ") + PQresultErrorMessage(r));
    }
    PQclear(r);
  }
  PQfinish(conn);
  return values;
}

std::string pg_value(const std::string& url, const std::string& sql) {
  auto values = pg_column(url, sql);
  return values.empty() ? "" : values.front();
}

class QueueMigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {kKey};
    fake_ = std::make_unique<testing::TlsFakeOmetria>(dir_.path(), std::move(options));
    url_ = PostgresServer::shared().create_database();
  }
  std::string queue_path() const { return dir_.file("queue.db"); }
  std::string write_config(const json& queue) {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", queue},
        {"ometria", fake_->ometria_config()},
        {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}, {"retry", {{"auth_probe_interval", "10m"}}}}},
    };
    const std::string path = dir_.file("config-" + std::to_string(++configs_) + ".json");
    std::ofstream(path) << config.dump(2);
    return path;
  }
  RunResult migrate(const std::string& extra = "") {
    return run("queue migrate --from sqlite:" + queue_path() + " --to 'postgres:" + url_ + "' " + extra, true);
  }
  std::string pg_count(const std::string& table) { return pg_value(url_, "SELECT COUNT(*) FROM " + table); }

  testing::TempDir dir_;
  std::unique_ptr<testing::TlsFakeOmetria> fake_;
  std::string url_;
  int configs_ = 0;
};

// The "tables" entry of a migrate answer, by name.
std::map<std::string, json> tables_of(const std::string& out) {
  std::map<std::string, json> tables;
  const auto start = out.find('{');
  if (start == std::string::npos) return tables;
  const auto answer = json::parse(out.substr(start));
  for (const auto& t : answer["tables"]) tables[t["table"].get<std::string>()] = t;
  return tables;
}

TEST_F(QueueMigrateTest, MovesEverythingTheQueueHoldsAndServeDeliversItFromPostgres) {
  std::set<std::string> expected;
  std::map<queue::RecordId, queue::QueuedRecord> before;
  queue::RecordId dead_id = 0;
  {
    auto q = open_queue(queue_path());
    expected = enqueue_records(*q, kKey, RecordType::contact, 150);
    std::vector<queue::NewRecord> backfill;
    for (int n = 0; n < 120; ++n) {
      backfill.push_back(make_record(kKey, RecordType::order, n));
      backfill.back().lane = queue::Lane::backfill;
      expected.insert(kKey + "/order/" + std::to_string(n));
    }
    ASSERT_TRUE(q->enqueue(std::move(backfill)).get());
    auto dead = q->enqueue({make_record(kKey, RecordType::order, 9999)}).get();
    ASSERT_TRUE(dead);
    dead_id = dead->front();
    ASSERT_EQ(*q->dead_letter(*dead, "HTTP 400 Bad Request: Ometria refused the payload"), 1u);
    queue::IngestWrite rejected;
    rejected.rejected.push_back({"shop", "/v1/batch", "type is missing", R"({"event":"x"})"});
    ASSERT_TRUE(q->store(std::move(rejected)).get());
    ASSERT_TRUE(q->hold_key(kHeldKey, "HTTP 401 from Ometria"));
    // Ten contacts with a failed attempt behind them: their attempts and due times move too.
    auto leased = q->lease(kKey, RecordType::contact, queue::Lane::live, 10, std::chrono::seconds(30));
    ASSERT_TRUE(leased);
    std::vector<queue::RecordId> retried;
    for (const auto& r : leased->records) retried.push_back(r.id);
    ASSERT_EQ(*q->reschedule(retried, std::chrono::milliseconds(1)), 10u);
    std::this_thread::sleep_for(5ms);  // the rescheduled ones are due again
    // Leases live in the SQLite queue's memory only: reading every record this way leaves the file as it is.
    for (const auto& partition : {std::pair{RecordType::contact, queue::Lane::live},
                                  std::pair{RecordType::order, queue::Lane::backfill}}) {
      for (;;) {
        auto some = q->lease(kKey, partition.first, partition.second, 100, std::chrono::seconds(30));
        ASSERT_TRUE(some);
        if (some->records.empty()) break;
        for (const auto& r : some->records) before[r.id] = r;
      }
    }
    ASSERT_EQ(before.size(), 270u);
  }

  // The target served a queue before, which left a partition floor above every id the file holds: the records
  // keep their ids, so the migration forgets the floors (else no lease would reach them).
  {
    queue::PostgresQueueOptions used;
    used.url = url_;
    ASSERT_TRUE(queue::PostgresQueue::open(used));
    pg_value(url_, "INSERT INTO partition_floors VALUES ('" + kKey + "', 'contact', 0, 1000000000)");
    ASSERT_EQ(pg_count("partition_floors"), "1");
  }

  // Everything moves, the lane total that dead-lettering counted too: nothing is left behind.
  auto moved = migrate();
  ASSERT_EQ(moved.exit_code, 0) << moved.out;
  EXPECT_EQ(pg_count("partition_floors"), "0");
  auto tables = tables_of(moved.out);
  const auto answer = json::parse(moved.out.substr(moved.out.find('{')));
  EXPECT_TRUE(answer["left_behind"].empty()) << answer["left_behind"];
  EXPECT_EQ(tables["lane_totals"]["target_after"], 1);
  EXPECT_EQ(tables["records"]["source"], 270);
  EXPECT_EQ(tables["records"]["target_before"], 0);
  EXPECT_EQ(tables["records"]["target_after"], 270);
  EXPECT_EQ(tables["dead_letters"]["target_after"], 1);
  EXPECT_EQ(tables["rejected_events"]["target_after"], 1);
  EXPECT_EQ(tables["held_keys"]["target_after"], 1);

  // Every record as it was: id, lane, attempts, due and created times.
  const auto rows = pg_column(url_,
                              "SELECT id || ' ' || lane || ' ' || attempts || ' ' || next_attempt_at || ' ' || created_at"
                              " FROM records ORDER BY id");
  ASSERT_EQ(rows.size(), 270u) << (rows.empty() ? "" : rows.front());
  std::size_t retried = 0;
  for (const auto& row : rows) {
    std::istringstream in(row);
    queue::RecordId id;
    int lane;
    std::uint32_t attempts;
    queue::UnixMillis due, created;
    in >> id >> lane >> attempts >> due >> created;
    ASSERT_TRUE(before.count(id)) << row;
    const auto& was = before[id];
    EXPECT_EQ(lane, static_cast<int>(was.lane)) << row;
    EXPECT_EQ(attempts, was.attempts) << row;
    EXPECT_EQ(due, was.next_attempt_at) << row;
    EXPECT_EQ(created, was.created_at) << row;
    retried += attempts == 1;
  }
  EXPECT_EQ(retried, 10u);
  EXPECT_EQ(pg_value(url_, "SELECT id || ' ' || reason FROM dead_letters"),
            std::to_string(dead_id) + " HTTP 400 Bad Request: Ometria refused the payload");
  EXPECT_EQ(pg_value(url_, "SELECT source || ' ' || route || ' ' || reason || ' ' || event FROM rejected_events"),
            R"(shop /v1/batch type is missing {"event":"x"})");
  EXPECT_EQ(pg_value(url_, "SELECT api_key || ' ' || reason FROM held_keys"), kHeldKey + " HTTP 401 from Ometria");
  // New ids come after every id the file handed out (the replayed dead letter's included).
  EXPECT_GT(std::stoll(pg_value(url_, "SELECT nextval(pg_get_serial_sequence('records', 'id'))")), dead_id);
  // The source is left as it was.
  EXPECT_EQ(open_queue(queue_path())->depth(), 270u);

  const std::string config = write_config({{"backend", "postgres"}, {"url", {{"env", "OMT_TEST_PG_QUEUE_URL"}}}});
  ChildProcess serve(OMT_BINARY, {"serve", "--config", config}, {"OMT_TEST_PG_QUEUE_URL=" + url_});
  ASSERT_TRUE(serve.wait_for_line("listening on", 10s)) << serve.output();
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, expected.size())) << serve.output();
  EXPECT_EQ(distinct_ids(fake_->records()), expected);
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(10s), 0) << serve.output();
}

TEST_F(QueueMigrateTest, IsRefusedWhileServeHoldsTheSourceAndAllowedOnceItIsGoneEvenKilled) {
  {
    auto q = open_queue(queue_path());
    enqueue_records(*q, kKey, RecordType::contact, 5);
    ASSERT_TRUE(q->hold_key(kKey, "held, so that serve keeps the records while the test runs"));
  }
  const std::string config = write_config({{"path", queue_path()}, {"durability", "normal"}});
  ChildProcess serve(OMT_BINARY, {"serve", "--config", config});
  ASSERT_TRUE(serve.wait_for_line("listening on", 10s)) << serve.output();

  auto refused = migrate();
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("held by a running server"), std::string::npos) << refused.out;
  EXPECT_EQ(pg_value(url_, "SELECT to_regclass('records') IS NULL"), "t") << "the target is not even touched";

  serve.signal(SIGKILL);
  ASSERT_EQ(serve.wait_exit(10s), 128 + SIGKILL);
  auto moved = migrate();
  ASSERT_EQ(moved.exit_code, 0) << moved.out;
  EXPECT_EQ(pg_count("records"), "5");
}

TEST_F(QueueMigrateTest, IsRefusedIntoATargetThatHoldsRecords) {
  {
    auto q = open_queue(queue_path());
    enqueue_records(*q, kKey, RecordType::contact, 5);
  }
  {
    queue::PostgresQueueOptions o;
    o.url = url_;
    auto q = queue::PostgresQueue::open(std::move(o));
    ASSERT_TRUE(q) << q.error().message;
    ASSERT_TRUE((*q)->enqueue({make_record(kKey, RecordType::order, 1)}).get());
  }
  auto refused = migrate();
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("the target is not empty (records 1)"), std::string::npos) << refused.out;
  EXPECT_EQ(pg_count("records"), "1");
}

TEST_F(QueueMigrateTest, AFailureMidwayLeavesTheTargetEmpty) {
  {
    auto q = open_queue(queue_path());
    enqueue_records(*q, kKey, RecordType::contact, 300);
    auto dead = q->enqueue({make_record(kKey, RecordType::order, 9999)}).get();
    ASSERT_TRUE(dead);
    ASSERT_EQ(*q->dead_letter(*dead, "HTTP 400"), 1u);
  }
  {
    // A rejected event whose text is not UTF-8 (SQLite stores what it is given; PostgreSQL refuses it): the
    // records and the dead letter are written before it, and must go with the rollback.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(queue_path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO rejected_events(source, route, reason, rejected_at, event)"
                           " VALUES('shop', '/v1/batch', 'bad', 1, CAST(X'7bff7d' AS TEXT))",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto failed = migrate();
  EXPECT_EQ(failed.exit_code, 1) << failed.out;
  EXPECT_NE(failed.out.find("insert into rejected_events"), std::string::npos) << failed.out;
  EXPECT_EQ(pg_count("records"), "0");
  EXPECT_EQ(pg_count("dead_letters"), "0");
  EXPECT_EQ(pg_count("rejected_events"), "0");
  EXPECT_EQ(open_queue(queue_path())->depth(), 300u);
}

TEST(QueueFileLock, ServersShareItAndAMigrationExcludesThem) {
  testing::TempDir dir;
  const std::string file = dir.file("data/queue.db");
  auto first = queue::QueueFileLock::serve(file);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(queue::QueueFileLock::serve(file)) << "a second server on the same file starts, as before";
  auto refused = queue::QueueFileLock::exclusive(file);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::unavailable);
  EXPECT_NE(refused.error().message.find("held by a running server"), std::string::npos) << refused.error().message;
  { auto gone = std::move(*first); }
  auto migration = queue::QueueFileLock::exclusive(file);
  ASSERT_TRUE(migration) << migration.error().message;
  auto server = queue::QueueFileLock::serve(file);
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("being moved by `queue migrate`"), std::string::npos) << server.error().message;
}

}  // namespace
}  // namespace omt::test
