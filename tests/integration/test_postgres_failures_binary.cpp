// The database's own failures, with the real binary on a real PostgreSQL 15 (support/postgres_server.hpp), no
// mocks: the server stopped (fast, then immediate) and started again while ingest posts and delivery pushes to
// the fake Ometria. Every request is answered (200, or 503 with Retry-After) within the timeouts, the outage is
// told once and the reconnects are few (backoff), /health says "unavailable" (503) while the database is down and
// "ok" after, and every event answered 200 reaches Ometria (at-least-once: distinct ids). And a statement that
// waits past the timeout (a table locked by another session) fails clearly while /health still answers at once.
#include <gtest/gtest.h>

#include <libpq-fe.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "child_process.hpp"
#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "postgres_server.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using testing::FakeOmetria;
using testing::FakeOmetriaOptions;

const std::string kKey = "key-pgfail-secret";
const std::string kWriteKey = "wk-pgfail";

json identify(int n) {
  return {{"type", "identify"},
          {"userId", "u" + std::to_string(n)},
          {"traits", {{"email", "ann" + std::to_string(n) + "@example.com"}, {"listingId", "L" + std::to_string(n)}}}};
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

class PostgresFailuresBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {kKey};
    fake_ = std::make_unique<FakeOmetria>(std::move(options));
    url_ = PostgresServer::shared().create_database();
  }
  void TearDown() override {
    if (!PostgresServer::shared().running()) PostgresServer::shared().start();  // for the next test of this process
  }

  void start_serve() {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", {{"backend", "postgres"}, {"url", {{"env", "OMT_TEST_PG_QUEUE_URL"}}}}},
        {"ometria", {{"endpoint", fake_->url()}, {"allow_plain_http", true}}},
        {"delivery",
         {{"requests_per_second", 0},
          {"linger", "20ms"},
          {"retry", {{"base_delay", "20ms"}, {"max_delay", "200ms"}}}}},
        {"sources", json::array({{{"name", "web"}, {"write_key", kWriteKey}, {"api_key", kKey}}})},
    };
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    serve_ = std::make_unique<ChildProcess>(OMT_BINARY, std::vector<std::string>{"serve", "--config", path},
                                            std::vector<std::string>{"OMT_TEST_PG_QUEUE_URL=" + url_});
    const auto line = serve_->wait_for_line("listening on", 10s);
    if (!line) throw std::runtime_error("the service did not start: " + serve_->output());
    port_ = port_from_listening_line(*line);
  }

  json health(HttpClient& client, int* status = nullptr) {
    const auto r = client.get("/health");
    if (status) *status = r.status;
    return json::parse(r.body);
  }

  testing::TempDir dir_;
  std::unique_ptr<FakeOmetria> fake_;
  std::string url_;
  std::unique_ptr<ChildProcess> serve_;
  std::uint16_t port_ = 0;
};

// Posts identify events one after the other, each with its own id, and keeps what each was answered.
class Load {
 public:
  Load(std::uint16_t port, int first) : port_(port), next_(first) {
    thread_ = std::thread([this] { run(); });
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> acknowledged() const {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::size_t unavailable() const { return unavailable_.load(); }
  std::vector<std::string> problems() const {
    std::lock_guard lock(mutex_);
    return problems_;
  }

 private:
  void run() {
    const Headers headers{{"Authorization", basic_auth(kWriteKey)}, {"Content-Type", "application/json"}};
    // Well past the queue's timeouts (connect 5 s, statement 10 s): an answer later than this is a hang.
    HttpClient client("127.0.0.1", port_, 15s);
    while (!stop_) {
      const int n = next_++;
      try {
        const auto r = client.post("/v1/identify", identify(n).dump(), headers);
        std::lock_guard lock(mutex_);
        if (r.status == 200) acknowledged_.insert("L" + std::to_string(n));
        else if (r.status == 503 && !r.header("Retry-After").empty()) ++unavailable_;
        else problems_.push_back("event " + std::to_string(n) + ": " + std::to_string(r.status) + " " + r.body);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        problems_.push_back("event " + std::to_string(n) + ": " + e.what());
        client.close();
      }
      if (unavailable_ > 0) std::this_thread::sleep_for(2ms);  // a client that retries, not a flood
    }
  }

  std::uint16_t port_;
  int next_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> unavailable_{0};
  mutable std::mutex mutex_;
  std::set<std::string> acknowledged_;
  std::vector<std::string> problems_;
  std::thread thread_;
};

TEST_F(PostgresFailuresBinaryTest, PostgresRestartedUnderLoadEveryRequestIsAnsweredAndEveryAcknowledgedEventArrives) {
  start_serve();
  HttpClient client("127.0.0.1", port_, 5s);
  int status = 0;
  auto before = health(client, &status);
  ASSERT_EQ(status, 200) << before.dump();
  EXPECT_EQ(before["checks"]["queue"]["backend"], "postgres");
  EXPECT_EQ(before["checks"]["queue"]["state"], "ok");

  Load first(port_, 0), second(port_, 1'000'000);
  std::size_t outages = 0;
  for (auto how : {PostgresServer::Stop::fast, PostgresServer::Stop::immediate}) {
    SCOPED_TRACE(how == PostgresServer::Stop::fast ? "stop -m fast" : "stop -m immediate");
    const auto delivered = fake_->records().size();
    ASSERT_TRUE(fake_->wait_for_records(delivered + 50, kWait)) << "delivery runs before the stop\n" << serve_->output();
    PostgresServer::shared().stop(how);
    ++outages;
    // /health tells it, without waiting on the database; the gauge follows.
    json down;
    ASSERT_TRUE(eventually([&] {
      down = health(client, &status);
      return status == 503;
    }, 10s)) << down.dump() << "\n" << serve_->output();
    EXPECT_EQ(down["status"], "unavailable");
    EXPECT_EQ(down["checks"]["queue"]["ok"], false);
    EXPECT_EQ(down["checks"]["queue"]["state"], "unavailable");
    EXPECT_TRUE(down["checks"]["queue"].contains("since")) << down.dump();
    EXPECT_NE(down["checks"]["queue"].value("error", std::string()), "") << down.dump();
    EXPECT_TRUE(eventually([&] { return client.get("/metrics").body.find("\nomt_queue_database_up 0\n") != std::string::npos; },
                           5s));
    // Ingest meanwhile answers 503 with Retry-After (counted by the load), at once.
    const auto refused = first.unavailable() + second.unavailable();
    EXPECT_TRUE(eventually([&] { return first.unavailable() + second.unavailable() > refused + 20; }, 5s));
    std::this_thread::sleep_for(1500ms);  // an outage of a while: the reconnects back off meanwhile
    PostgresServer::shared().start();
    json up;
    ASSERT_TRUE(eventually([&] {
      up = health(client, &status);
      return status == 200;
    }, 15s)) << up.dump() << "\n" << serve_->output();
    EXPECT_EQ(up["checks"]["queue"]["state"], "ok");
    EXPECT_FALSE(up["checks"]["queue"].contains("error")) << up.dump();
    EXPECT_TRUE(eventually([&] { return client.get("/metrics").body.find("\nomt_queue_database_up 1\n") != std::string::npos; },
                           5s));
    EXPECT_GT(metric(client.get("/metrics").body, "omt_queue_database_round_trips_total"), 0) << "counted on PostgreSQL";
    // Stores go through again.
    const auto acknowledged = first.acknowledged().size();
    ASSERT_TRUE(eventually([&] { return first.acknowledged().size() > acknowledged + 20; }, 10s)) << serve_->output();
  }
  first.stop();
  second.stop();
  for (const auto* load : {&first, &second}) {
    for (const auto& problem : load->problems()) ADD_FAILURE() << problem;
  }
  std::set<std::string> acknowledged = first.acknowledged();
  acknowledged.merge(second.acknowledged());
  EXPECT_GT(first.unavailable() + second.unavailable(), 0u);

  // Every event answered 200 arrives (some perhaps twice: a push whose ack was lost is pushed again).
  ASSERT_TRUE(eventually([&] {
    const auto arrived = distinct_ids(fake_->records());
    return std::includes(arrived.begin(), arrived.end(), acknowledged.begin(), acknowledged.end());
  }, kWait)) << acknowledged.size() << " acknowledged, " << distinct_ids(fake_->records()).size() << " arrived\n"
             << serve_->output();

  serve_->signal(SIGTERM);
  EXPECT_EQ(serve_->wait_exit(15s), 0) << serve_->output();
  const std::string log = serve_->output();
  // Told once per outage, not per request; one reconnect per backoff step (100 ms doubling up to 5 s), not one
  // per operation: an outage of about two seconds takes a handful of attempts.
  EXPECT_EQ(count_of(log, "database is unavailable:"), outages) << log;
  EXPECT_EQ(count_of(log, "database answers again"), outages) << log;
  const std::regex attempts(R"(answers again after \d+ ms \((\d+) failed attempts)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), attempts); it != std::sregex_iterator(); ++it) {
    EXPECT_LE(std::stoi((*it)[1]), 12) << it->str();
  }
  EXPECT_LE(count_of(log, "cannot list ready partitions"), outages) << "delivery tells a failing queue once";
}

TEST_F(PostgresFailuresBinaryTest, AStatementPastTheTimeoutFailsClearlyAndTheServiceCarriesOn) {
  start_serve();
  HttpClient client("127.0.0.1", port_, 20s);
  const Headers headers{{"Authorization", basic_auth(kWriteKey)}, {"Content-Type", "application/json"}};
  ASSERT_EQ(client.post("/v1/identify", identify(1).dump(), headers).status, 200);
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, 1));
  int status = 0;
  // Acked too (the queue empty), so that the store below is the only statement waiting for the lock.
  ASSERT_TRUE(eventually([&] {
    const auto h = health(client, &status);
    return h["checks"]["queue"].value("detail", std::string()).starts_with("depth 0 of");
  })) << serve_->output();

  // Another session locks the records table against writes: a store waits for the lock, the server gives up at
  // the statement (and lock) timeout, 10 s, and ingest answers 503 with Retry-After.
  std::unique_ptr<PGconn, void (*)(PGconn*)> other(PQconnectdb(url_.c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(other.get()), CONNECTION_OK) << PQerrorMessage(other.get());
  std::unique_ptr<PGresult, void (*)(PGresult*)> locked(
      PQexec(other.get(), "BEGIN; LOCK TABLE records IN EXCLUSIVE MODE"), &PQclear);
  ASSERT_EQ(PQresultStatus(locked.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(locked.get());

  std::atomic<bool> answered{false};
  HttpResponse waited;
  std::thread poster([&] {
    HttpClient slow("127.0.0.1", port_, 20s);
    try {
      waited = slow.post("/v1/identify", identify(2).dump(), headers);
    } catch (const std::exception& e) {
      waited.body = e.what();  // status 0: no answer within 20 s
    }
    answered = true;
  });
  // Meanwhile /health answers at once: it never waits on the database.
  std::this_thread::sleep_for(500ms);
  const auto started = std::chrono::steady_clock::now();
  const auto meanwhile = health(client, &status);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(status, 200) << meanwhile.dump();
  EXPECT_FALSE(answered.load()) << "the store waits for the lock";
  poster.join();
  EXPECT_EQ(waited.status, 503) << waited.body;
  EXPECT_FALSE(waited.header("Retry-After").empty());
  EXPECT_TRUE(eventually([&] {
    const auto out = serve_->output();
    return out.find("longer than the lock timeout") != std::string::npos ||
           out.find("did not finish within the statement timeout") != std::string::npos;
  }, 2s)) << serve_->output();

  locked.reset(PQexec(other.get(), "ROLLBACK"));
  // The connection is still good: the next store is stored and delivered, and /health is ok throughout.
  ASSERT_EQ(client.post("/v1/identify", identify(3).dump(), headers).status, 200);
  ASSERT_TRUE(eventually([&] { return distinct_ids(fake_->records()).count("L3") == 1; }, kWait)) << serve_->output();
  const auto after = health(client, &status);
  EXPECT_EQ(status, 200) << after.dump();
  EXPECT_EQ(after["checks"]["queue"]["state"], "ok");
  serve_->signal(SIGTERM);
  EXPECT_EQ(serve_->wait_exit(15s), 0) << serve_->output();
  EXPECT_EQ(count_of(serve_->output(), "database is unavailable:"), 0u) << "a timeout is no outage";
}

}  // namespace
}  // namespace omt::test
