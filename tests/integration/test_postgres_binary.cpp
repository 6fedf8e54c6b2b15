// The real binary on a PostgreSQL queue (queue.backend "postgres", the URL from the environment): `serve`
// delivers what the queue holds to the fake Ometria, and the operator commands read the same queue, naming it by
// its URL without the password. The server is the one the tests start (support/postgres_server.hpp).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "delivery_harness.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using ometria::RecordType;
using testing::FakeOmetria;
using testing::FakeOmetriaOptions;

const std::string kKey = "key-postgres-secret";

class PostgresBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::make_test_pki(dir_.path());
    FakeOmetriaOptions options;
    options.keys = {kKey};
    options.tls = true;
    options.cert_file = pki_.server_cert_file;
    options.key_file = pki_.server_key_file;
    fake_ = std::make_unique<FakeOmetria>(std::move(options));
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
  std::string write_config() {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", {{"backend", "postgres"}, {"url", {{"env", "OMT_TEST_PG_QUEUE_URL"}}}}},
        {"ometria", {{"endpoint", fake_->url()}, {"extra_ca_file", pki_.ca_file}}},
        {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}}},
    };
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }
  // The URL as the service reads it, with a password the server does not need (trust) but must never print.
  std::string url_env() const {
    return "postgresql://omt:pg-secret-word@" + url_.substr(std::string("postgresql://omt@").size());
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  std::unique_ptr<FakeOmetria> fake_;
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

}  // namespace
}  // namespace omt::test
