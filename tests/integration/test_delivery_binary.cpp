// Delivery through the real binary (`ometria-transformer serve`): a queue file pre-filled by the test, the fake
// Ometria over TLS with a test CA, SIGKILL in the middle of delivery and a restart that delivers every record;
// held keys in /health and /metrics; and no queue file at all when delivery is not configured.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "omt/obs/log.hpp"
#include "tls_fake_ometria.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using ometria::RecordType;
using testing::FakeOmetriaOptions;

const std::string kKeyA = "key-alpha-secret";
const std::string kKeyB = "key-bravo-secret";

class DeliveryBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {kKeyA, kKeyB};
    options.threads = 2;
    fake_ = std::make_unique<testing::TlsFakeOmetria>(dir_.path(), std::move(options));
  }

  std::string queue_path() const { return dir_.file("data/queue.db"); }

  // A config for the binary: time-compressed delivery to the fake, the queue in the test's directory.
  std::string write_config(json sources = json::array()) {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", {{"path", queue_path()}, {"durability", "normal"}}},
        {"ometria", fake_->ometria_config({{"max_in_flight", 4}})},
        {"delivery",
         {{"requests_per_second", 0},
          {"linger", "20ms"},
          {"retry", {{"base_delay", "20ms"}, {"max_delay", "200ms"}, {"auth_probe_interval", "10m"}}}}},
    };
    if (!sources.empty()) config["sources"] = std::move(sources);
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }

  std::unique_ptr<ChildProcess> start_binary(const std::string& config_path, std::uint16_t* port = nullptr) {
    auto child = std::make_unique<ChildProcess>(OMT_BINARY, std::vector<std::string>{"serve", "--config", config_path});
    const auto line = child->wait_for_line("listening on", 10s);
    if (!line) throw std::runtime_error("the service did not start: " + child->output());
    if (port) *port = port_from_listening_line(*line);
    return child;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TlsFakeOmetria> fake_;
};

TEST_F(DeliveryBinaryTest, KilledWithSigkillInTheMiddleOfDeliveryAndRestartedItDeliversEveryRecord) {
  std::set<std::string> expected;
  {
    auto queue = open_queue(queue_path());
    for (const auto& key : {kKeyA, kKeyB}) {
      for (auto type : {RecordType::contact, RecordType::order}) expected.merge(enqueue_records(*queue, key, type, 1500));
    }
  }  // closed: the binary opens it next
  fake_->set_delay(10ms);
  const std::string config = write_config();  // no sources: the records already queued are reason enough

  auto first = start_binary(config);
  ASSERT_TRUE(fake_->wait_for_records(1500, kWait)) << first->output();
  fake_->hold_answers();  // the pushes now on the wire stay unanswered: the kill lands in the middle of them
  ASSERT_TRUE(fake_->wait_for_held(1, kWait));
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait_exit(10s), 128 + SIGKILL);
  fake_->release_answers();
  const auto before_restart = distinct_ids(fake_->records()).size();
  ASSERT_LT(before_restart, expected.size()) << "the kill must come before delivery finished";

  auto second = start_binary(config);
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, expected.size())) << distinct_ids(fake_->records()).size() << " of "
                                                              << expected.size() << "\n" << second->output();
  const auto records = fake_->records();
  EXPECT_EQ(distinct_ids(records), expected);
  for (const auto& r : records) EXPECT_EQ(r.id.substr(0, r.api_key.size() + 1), r.api_key + "/") << r.id;
  for (const auto& push : fake_->pushes()) {
    EXPECT_LE(push.records, 100u);
    EXPECT_EQ(push.types.size(), 1u);
  }

  second->signal(SIGTERM);
  EXPECT_EQ(second->wait_exit(10s), 0) << second->output();
  auto queue = open_queue(queue_path());
  EXPECT_EQ(queue->depth(), 0u) << "every delivered record was acked before the graceful exit";
}

TEST_F(DeliveryBinaryTest, AHeldKeyShowsInHealthAndMetricsByFingerprintAndItsRecordsStayQueued) {
  fake_->set_key_status(kKeyA, 401);
  {
    auto queue = open_queue(queue_path());
    enqueue_records(*queue, kKeyA, RecordType::contact, 30);
    enqueue_records(*queue, kKeyB, RecordType::contact, 30);
  }
  const json sources = json::array({{{"name", "shop"}, {"write_key", "wk-1"}, {"api_key", kKeyA}}});
  std::uint16_t port = 0;
  auto child = start_binary(write_config(sources), &port);

  ASSERT_TRUE(fake_->wait_for_records(30, kWait));  // key B flows
  HttpClient client("127.0.0.1", port);
  const std::string fingerprint = obs::key_fingerprint(kKeyA);
  HttpResponse health;
  ASSERT_TRUE(eventually([&] {
    health = client.get("/health");
    return health.body.find(fingerprint) != std::string::npos;
  })) << health.body;
  EXPECT_EQ(health.status, 200) << "a refused customer key is reported, not a failed service";
  const auto body = json::parse(health.body);
  EXPECT_EQ(body["checks"]["queue"]["ok"], true);
  EXPECT_NE(body["checks"]["delivery"]["detail"].get<std::string>().find("HTTP 401"), std::string::npos);
  EXPECT_NE(body["checks"]["delivery"]["detail"].get<std::string>().find("; source shop)"), std::string::npos)
      << health.body;
  EXPECT_EQ(health.body.find(kKeyA), std::string::npos) << "never the key itself";

  const auto metrics = client.get("/metrics").body;
  EXPECT_NE(metrics.find("omt_delivery_held_keys 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("omt_delivery_key_held{key=\"" + fingerprint + "\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("omt_queue_depth"), std::string::npos);
  EXPECT_EQ(metrics.find(kKeyA), std::string::npos);

  child->signal(SIGTERM);
  EXPECT_EQ(child->wait_exit(10s), 0) << child->output();
  EXPECT_NE(child->output().find("Ometria refused key " + fingerprint), std::string::npos) << child->output();
  EXPECT_EQ(child->output().find(kKeyA), std::string::npos) << "the log never holds the key";
  // Key B's records were queued under a key no source has: warned about at start-up, with the way out.
  const std::string b = obs::key_fingerprint(kKeyB);
  EXPECT_NE(child->output().find("the queue holds 30 records under key " + b + ", which no configured source has"),
            std::string::npos) << child->output();
  EXPECT_NE(child->output().find("`ometria-transformer queue rekey --from " + b + " --source NAME`"), std::string::npos);
  EXPECT_NE(child->output().find("`ometria-transformer queue release --key " + b + " --to-dead-letter`"),
            std::string::npos);
  EXPECT_EQ(child->output().find("records under key " + fingerprint), std::string::npos) << "key A is a source's";
  auto queue = open_queue(queue_path());
  EXPECT_EQ(queue->depth(), 30u) << "the held key's records stay queued";
  auto held = queue->held_keys();
  ASSERT_TRUE(held);
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].api_key, kKeyA);
}

TEST_F(DeliveryBinaryTest, WithoutSourcesOrQueuedRecordsThereIsNoQueueFile) {
  std::uint16_t port = 0;
  auto child = start_binary(write_config(), &port);
  HttpClient client("127.0.0.1", port);
  EXPECT_EQ(client.get("/health").status, 200);
  child->signal(SIGTERM);
  EXPECT_EQ(child->wait_exit(10s), 0);
  EXPECT_FALSE(std::filesystem::exists(queue_path())) << "plain rudder-transformer users get no queue";
  EXPECT_EQ(child->output().find("delivery:"), std::string::npos) << child->output();
}

}  // namespace
}  // namespace omt::test
