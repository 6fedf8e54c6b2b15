// The real binary on a PostgreSQL queue (queue.backend "postgres", the URL from the environment): `serve`
// delivers what the queue holds to the fake Ometria, and the operator commands read the same queue, naming it by
// its URL without the password; `import` queues its backfill there (and `import status`, `requests` and `queue stats`
// show the run, the pushes and the lane totals). The server is the one the tests start (support/postgres_server.hpp).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>
#include <future>
#include <map>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "delivery_harness.hpp"
#include "omt/obs/log.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"
#include "tls_fake_ometria.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using ometria::RecordType;
using testing::FakeOmetriaOptions;

const std::string kKey = "key-postgres-secret";

class PostgresBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {kKey};
    fake_ = std::make_unique<testing::TlsFakeOmetria>(dir_.path(), std::move(options));
    url_ = PostgresServer::shared().create_database();
  }
  std::unique_ptr<queue::PostgresQueue> open_queue() {
    queue::PostgresQueueOptions o;
    o.url = url_;
    o.lease_owner = "the-test";
    auto q = queue::PostgresQueue::open(std::move(o));
    if (!q) throw std::runtime_error(q.error().message);
    return std::move(*q);
  }
  std::string write_config(json extra = json::object()) {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", {{"backend", "postgres"}, {"url", {{"env", "OMT_TEST_PG_QUEUE_URL"}}}}},
        {"ometria", fake_->ometria_config()},
        {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}}},
    };
    config.merge_patch(extra);
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }
  // The URL as the service reads it, with a password the server does not need (trust) but must never print.
  std::string url_env() const {
    return "postgresql://omt:pg-secret-word@" + url_.substr(std::string("postgresql://omt@").size());
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TlsFakeOmetria> fake_;
  std::string url_;
};

TEST_F(PostgresBinaryTest, ServeDeliversFromAPostgresQueueAndTheOperatorCommandsReadIt) {
  std::set<std::string> expected;
  {
    auto q = open_queue();
    expected = enqueue_records(*q, kKey, RecordType::contact, 250);
    auto dead = q->enqueue({make_record(kKey, RecordType::order, 9999)}).get();
    ASSERT_TRUE(dead);
    ASSERT_EQ(*q->dead_letter(*dead, "HTTP 400 Bad Request: Ometria refused the payload"), 1u);
  }
  const std::string config = write_config();
  ChildProcess serve(OMT_BINARY, {"serve", "--config", config}, {"OMT_TEST_PG_QUEUE_URL=" + url_env()});
  ASSERT_TRUE(serve.wait_for_line("listening on", 10s)) << serve.output();
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, expected.size())) << serve.output();
  EXPECT_EQ(distinct_ids(fake_->records()), expected);
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(10s), 0) << serve.output();
  EXPECT_EQ(serve.output().find("pg-secret-word"), std::string::npos) << serve.output();

  const std::string env = "OMT_TEST_PG_QUEUE_URL='" + url_env() + "'";
  auto stats = run("queue stats --config '" + config + "'", false, env);
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  EXPECT_EQ(stats.out.find("pg-secret-word"), std::string::npos) << stats.out;
  const auto answer = json::parse(stats.out);
  EXPECT_EQ(answer["depth"], 0);
  EXPECT_EQ(answer["dead_letters"], 1);
  EXPECT_EQ(answer["queue"], "postgresql://omt:***@" + url_.substr(std::string("postgresql://omt@").size()));
  auto replayed = run("dead-letter replay --config '" + config + "'", false, env);
  ASSERT_EQ(replayed.exit_code, 0) << replayed.out;
  EXPECT_EQ(json::parse(replayed.out)["replayed"], 1);
  EXPECT_EQ(open_queue()->depth(), 1u);
}

TEST_F(PostgresBinaryTest, AnImportQueuesItsBackfillInAPostgresQueueAndTheOperatorCommandsShowItsRunPushesAndTotals) {
  const std::string config = write_config(
      {{"sources", json::array({{{"name", "shop"}, {"write_key", "wk-shop"}, {"api_key", kKey},
                                 {"marketing_optin", "EXPLICITLY_OPTEDOUT"}}})}});
  const std::string env = "OMT_TEST_PG_QUEUE_URL='" + url_env() + "'";
  const std::string input = std::string(OMT_SOURCE_DIR) + "/tests/cases/import/records.jsonl";
  auto imported = run("import " + input + " --source shop --quiet --max-bad-records 2 --json --config '" + config + "'",
                      false, env);
  ASSERT_EQ(imported.exit_code, 0) << imported.out;
  const auto summary = json::parse(imported.out);
  EXPECT_EQ(summary["state"], "finished");
  EXPECT_EQ(summary["queued"], 5);
  EXPECT_EQ(open_queue()->lane_depth(queue::Lane::backfill), 5u);
  auto again = run("import " + input + " --source shop --quiet --max-bad-records 2 --config '" + config + "'", true, env);
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("already imported (run 1, 5 records)"), std::string::npos) << again.out;

  auto status = run("import status --json --config '" + config + "'", false, env);
  ASSERT_EQ(status.exit_code, 0) << status.out;
  const auto listed = json::parse(status.out);
  ASSERT_EQ(listed["imports"].size(), 1u) << status.out;
  EXPECT_EQ(listed["imports"][0]["state"], "finished");
  EXPECT_EQ(listed["imports"][0]["records"], 5);
  EXPECT_EQ(listed["imports"][0]["files"][0]["passes_done"], 4);

  ChildProcess serve(OMT_BINARY, {"serve", "--config", config}, {"OMT_TEST_PG_QUEUE_URL=" + url_env()});
  ASSERT_TRUE(serve.wait_for_line("listening on", 10s)) << serve.output();
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, 5)) << serve.output();
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(10s), 0) << serve.output();

  auto requests = run("requests --json --config '" + config + "'", false, env);
  ASSERT_EQ(requests.exit_code, 0) << requests.out;
  std::size_t pushes = 0, records = 0;
  for (std::size_t at = 0, end; at < requests.out.size(); at = end + 1) {
    end = requests.out.find('\n', at);
    if (end == std::string::npos) end = requests.out.size();
    if (end == at) continue;
    const auto push = json::parse(requests.out.substr(at, end - at));
    EXPECT_EQ(push["lane"], "backfill");
    EXPECT_EQ(push["status"].get<int>() / 100, 2);
    ++pushes;
    records += push["records"].get<std::size_t>();
  }
  EXPECT_GE(pushes, 3u) << requests.out;  // a push per type
  EXPECT_EQ(records, 5u) << requests.out;
  EXPECT_EQ(requests.out.find(kKey), std::string::npos) << requests.out;

  auto stats = run("queue stats --config '" + config + "'", false, env);
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  const auto answer = json::parse(stats.out);
  EXPECT_EQ(answer["depth"], 0);
  std::map<std::string, json> lanes;
  for (const auto& l : answer["lanes"]) lanes[l["type"].get<std::string>()] = l;
  ASSERT_EQ(lanes.size(), 3u) << stats.out;
  EXPECT_EQ(lanes["product"]["lane"], "backfill");
  EXPECT_EQ(lanes["product"]["delivered"], 2);
  EXPECT_EQ(lanes["contact"]["delivered"], 2);
  EXPECT_EQ(lanes["order"]["delivered"], 1);
  EXPECT_EQ(lanes["order"]["source"], "shop");
}

// Which instance delivers which key: registered instances with their heartbeat's age and their claims, and the keys
// with records nobody has claimed yet, every key by its fingerprint only.
TEST_F(PostgresBinaryTest, QueueStatsShowsWhichInstanceDeliversWhichKeyByFingerprintOnly) {
  const std::string other = "key-postgres-other-secret", unclaimed = "key-postgres-unclaimed-secret";
  auto instance = [this](const std::string& id) {
    queue::PostgresQueueOptions o;
    o.url = url_;
    o.instance_id = id;
    o.lease_owner = id;
    o.lease_timeout = 60s;
    auto q = queue::PostgresQueue::open(std::move(o));
    if (!q) throw std::runtime_error(q.error().message);
    return std::move(*q);
  };
  auto round = [](queue::PostgresQueue& q) {
    std::promise<Expected<queue::OwnedKeys>> done;
    auto answer = done.get_future();
    q.key_ownership()->refresh_ownership({}, [&done](Expected<queue::OwnedKeys> r) { done.set_value(std::move(r)); });
    auto r = answer.get();
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  };
  auto writer = open_queue();
  auto web1 = instance("web-1"), web2 = instance("web-2");
  ASSERT_TRUE(round(*web2).owned.empty());  // registered, nothing to claim yet
  enqueue_records(*writer, kKey, RecordType::contact, 2);
  enqueue_records(*writer, other, RecordType::contact, 2);
  ASSERT_EQ(round(*web1).owned, std::vector<std::string>{other});  // two live instances: one key each
  ASSERT_EQ(round(*web2).owned, std::vector<std::string>{kKey});
  enqueue_records(*writer, unclaimed, RecordType::order, 1);  // after the rounds: nobody's yet

  const std::string config = write_config();
  auto stats = run("queue stats --config '" + config + "'", false, "OMT_TEST_PG_QUEUE_URL='" + url_env() + "'");
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  for (const auto& key : {kKey, other, unclaimed}) EXPECT_EQ(stats.out.find(key), std::string::npos) << stats.out;
  const auto shown = json::parse(stats.out)["delivery_instances"];
  EXPECT_EQ(shown["shared"], true);
  EXPECT_EQ(shown["live_instances"], 2);
  ASSERT_EQ(shown["instances"].size(), 2u) << shown.dump(2);
  const auto& first = shown["instances"][0];
  EXPECT_EQ(first["instance"], "web-1");
  EXPECT_EQ(first["live"], true);
  EXPECT_GE(first["heartbeat_age_seconds"].get<double>(), 0.0);
  EXPECT_LT(first["heartbeat_age_seconds"].get<double>(), 60.0);
  EXPECT_EQ(first["keys_owned"], 1);
  EXPECT_EQ(first["keys"], json::array({obs::key_fingerprint(other)}));
  EXPECT_EQ(shown["instances"][1]["instance"], "web-2");
  EXPECT_EQ(shown["instances"][1]["keys"], json::array({obs::key_fingerprint(kKey)}));
  EXPECT_EQ(shown["unclaimed_keys"], json::array({obs::key_fingerprint(unclaimed)}));

  // A resigned instance is gone, and its key is nobody's until a round claims it.
  std::promise<Expected<void>> resigned;
  web1->key_ownership()->resign_ownership([&resigned](Expected<void> r) { resigned.set_value(std::move(r)); });
  ASSERT_TRUE(resigned.get_future().get());
  const auto after = json::parse(run("queue stats --config '" + config + "'", false,
                                     "OMT_TEST_PG_QUEUE_URL='" + url_env() + "'").out)["delivery_instances"];
  ASSERT_EQ(after["instances"].size(), 1u) << after.dump(2);
  EXPECT_EQ(after["instances"][0]["instance"], "web-2");
  EXPECT_EQ(after["unclaimed_keys"], json::array({obs::key_fingerprint(other), obs::key_fingerprint(unclaimed)}));
}

}  // namespace
}  // namespace omt::test
