// The queue database's health without a server binary: obs/database_events (the once-per-outage lines, the gauge
// omt_queue_database_up), /health's entry for a check with facts (the queue's backend, state, since, error; 503
// when it fails), and the SQLite queue's own state.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <atomic>

#include "delivery_harness.hpp"
#include "log_capture.hpp"
#include "omt/net/router.hpp"
#include "omt/net/routes.hpp"
#include "omt/obs/database_events.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::test {
namespace {

using nlohmann::json;

TEST(DatabaseEvents, AnOutageIsToldWithItsErrorAndTheNextAttemptAndTheReturnWithItsLength) {
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    obs::emit(obs::QueueDatabaseUnavailable{"postgres", "queue: postgres: cannot connect to omt@127.0.0.1:5432/omt: refused",
                                            true, std::chrono::milliseconds(100)});
    obs::emit(obs::QueueDatabaseBack{"postgres", std::chrono::milliseconds(2300), 5});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(lines[0].ends_with(
        " error queue: the postgres database is unavailable: queue: postgres: cannot connect to "
        "omt@127.0.0.1:5432/omt: refused; operations fail at once meanwhile (ingest answers 503), reconnecting with "
        "backoff (next attempt in 100 ms)"))
        << lines[0];
    EXPECT_TRUE(lines[1].ends_with(" info queue: the postgres database answers again after 2300 ms (5 failed attempts to connect)"))
        << lines[1];
  }
  LogCapture capture({"info", obs::LogFormat::json, false});
  obs::emit(obs::QueueDatabaseUnavailable{"sqlite", "queue: commit: database or disk is full"});
  obs::emit(obs::QueueDatabaseBack{"sqlite", std::chrono::milliseconds(40), 0});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  const json line = json::parse(lines[0]);
  EXPECT_EQ(line["event"], "queue_database_unavailable");
  EXPECT_EQ(line["backend"], "sqlite");
  EXPECT_FALSE(line.contains("retry_in_ms")) << "a file has no reconnects";
  EXPECT_EQ(line["error"], "queue: commit: database or disk is full");
  EXPECT_TRUE(line["msg"].get<std::string>().ends_with("; operations fail meanwhile (ingest answers 503)")) << lines[0];
  const json back = json::parse(lines[1]);
  EXPECT_EQ(back["event"], "queue_database_back");
  EXPECT_EQ(back["down_for_ms"], 40);
  EXPECT_EQ(back["msg"], "queue: the sqlite database answers again after 40 ms");
}

TEST(DatabaseEvents, TheGaugeFollowsTheStateSeen) {
  obs::Registry registry;
  obs::DatabaseEvents events(registry);
  EXPECT_NE(registry.render_prometheus().find("\nomt_queue_database_up 1\n"), std::string::npos);
  events.emit(obs::QueueDatabaseSeen{false});
  EXPECT_NE(registry.render_prometheus().find("\nomt_queue_database_up 0\n"), std::string::npos);
  events.emit(obs::QueueDatabaseSeen{true});
  EXPECT_NE(registry.render_prometheus().find("\nomt_queue_database_up 1\n"), std::string::npos);
}

// The queue keeps the total of its round trips; the counter follows it, and a reading older than the last one
// (two threads reporting) never takes it back.
TEST(DatabaseEvents, TheRoundTripCounterFollowsTheQueuesTotal) {
  obs::Registry registry;
  obs::DatabaseEvents events(registry);
  const auto shows = [&](const std::string& n) {
    return registry.render_prometheus().find("\nomt_queue_database_round_trips_total " + n + "\n") != std::string::npos;
  };
  EXPECT_TRUE(shows("0")) << registry.render_prometheus();
  events.emit(obs::QueueDatabaseSeen{true, 40});
  EXPECT_TRUE(shows("40"));
  events.emit(obs::QueueDatabaseSeen{true, 25});
  EXPECT_TRUE(shows("40")) << "an older reading";
  events.emit(obs::QueueDatabaseSeen{false, 57});
  EXPECT_TRUE(shows("57"));
}

struct RecordingSink : net::ResponseSink {
  std::vector<net::Response> got;
  void deliver(net::Response r) override { got.push_back(std::move(r)); }
};

net::Response get_health(net::Router& router) {
  net::Request request;
  request.method = net::Method::get;
  request.path = "/health";
  auto match = router.match(request);
  if (match.handler == nullptr) throw std::runtime_error("no /health route");
  auto sink = std::make_shared<RecordingSink>();
  (*match.handler)(request, net::Responder(sink));
  if (sink->got.size() != 1) throw std::runtime_error("/health did not answer once");
  return sink->got[0];
}

TEST(HealthRoute, ACheckShowsItsFactsAndTheQueueDownMakesItUnavailable) {
  std::atomic<bool> down{false};
  net::HealthCheck queue{"queue",
                         [&](std::string& detail, net::HealthFacts& facts) {
                           const bool is_down = down.load();  // one reading for the status and the facts
                           detail = "depth 0 of high-water mark 10";
                           facts.texts.emplace_back("backend", "postgres");
                           facts.texts.emplace_back("state", is_down ? "unavailable" : "ok");
                           if (is_down) facts.texts.emplace_back("error", "queue: postgres: cannot connect");
                           facts.numbers.emplace_back("attempts", 3);
                           return !is_down;
                         }};
  obs::Registry metrics;
  net::Router router;
  net::add_operational_routes(router, metrics, net::ServiceInfo{"ometria-transformer", "test"}, {queue});
  auto ok = get_health(router);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body),
            json::parse(R"({"checks":{"queue":{"attempts":3,"backend":"postgres","detail":"depth 0 of high-water mark 10",)"
                        R"("ok":true,"state":"ok"}},"status":"ok"})"));
  down = true;
  auto unavailable = get_health(router);
  EXPECT_EQ(unavailable.status, 503);
  const auto body = json::parse(unavailable.body);
  EXPECT_EQ(body["status"], "unavailable");
  EXPECT_EQ(body["checks"]["queue"]["ok"], false);
  EXPECT_EQ(body["checks"]["queue"]["state"], "unavailable");
  EXPECT_EQ(body["checks"]["queue"]["error"], "queue: postgres: cannot connect");
}

TEST(SqliteQueueHealth, AnOpenQueueIsOkSinceItOpenedAndNamesItsBackend) {
  testing::TempDir dir;
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto queue = open_queue(dir.file("queue.db"));
  enqueue_records(*queue, "k", ometria::RecordType::contact, 3);
  const auto health = queue->health();
  EXPECT_EQ(health.backend, "sqlite");
  EXPECT_EQ(health.state, queue::QueueHealth::State::ok);
  EXPECT_GE(health.since, before / 1000 * 1000 - 1000);
  EXPECT_EQ(health.error, "");
  EXPECT_EQ(queue::to_string(health.state), "ok");
  EXPECT_EQ(queue::to_string(queue::QueueHealth::State::unavailable), "unavailable");
}

TEST(SqliteQueueHealth, TransactionsThatCannotWriteMakeItUnavailableUntilOneCommitsAgain) {
  testing::TempDir dir;
  queue::SqliteQueueOptions options;
  options.path = dir.file("queue.db");
  options.durability = queue::Durability::process_crash;
  options.busy_timeout = std::chrono::milliseconds(50);
  auto opened = queue::SqliteQueue::open(std::move(options));
  ASSERT_TRUE(opened) << opened.error().message;
  auto& queue = **opened;
  // Another process holds the write lock past the busy timeout: every transaction fails as a whole.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("queue.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  LogCapture capture({"info", obs::LogFormat::text, false});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(queue.enqueue({make_record("k", ometria::RecordType::contact, i)}).get());
  auto health = queue.health();
  EXPECT_EQ(health.state, queue::QueueHealth::State::unavailable);
  EXPECT_NE(health.error.find("locked"), std::string::npos) << health.error;
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(queue.enqueue({make_record("k", ometria::RecordType::contact, 9)}).get());
  health = queue.health();
  EXPECT_EQ(health.state, queue::QueueHealth::State::ok);
  EXPECT_EQ(health.error, "");
  std::size_t unreachable = 0, back = 0;
  for (const auto& line : capture.lines()) {
    unreachable += line.find("the sqlite database is unavailable") != std::string::npos;
    back += line.find("the sqlite database answers again") != std::string::npos;
  }
  EXPECT_EQ(unreachable, 1u) << "once for the three failed writes";
  EXPECT_EQ(back, 1u);
}

}  // namespace
}  // namespace omt::test
