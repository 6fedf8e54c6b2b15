// Three real instances on one PostgreSQL queue (queue.lease_timeout 3 s), six API keys, a backlog in the queue and
// events posted to the instances round robin while one of them is killed with SIGKILL: the keys spread two per
// instance, every acknowledged event and every backlog record reaches the fake Ometria, the killed instance's keys
// are taken over, and the fake never sees more pushes of one key in any second than the rate limit (8/s with a
// burst of 8, the defaults), across the keys' handovers while the instances join: one owner per key at a time, and
// a new owner waits a second before its first push. A real database, no mocks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using ometria::RecordType;
using testing::FakeOmetria;
using testing::FakeOmetriaOptions;

constexpr int kKeys = 6;
constexpr int kInstances = 3;
constexpr int kRequestsPerSecond = 8;
constexpr int kBurst = 8;
// Arrival times at the fake jitter by the time between a push's token and its request being read (scheduling on
// two busy cores); a key owned twice, or a new owner's burst beside the old owner's last second, shows up as
// rate + 1 pushes within about half a second, far beyond this.
constexpr auto kArrivalJitter = std::chrono::milliseconds(100);

std::string api_key(int i) { return "owners-key-" + std::to_string(i); }
std::string write_key(int i) { return "wk-owners-" + std::to_string(i); }

class PostgresOwnershipBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    for (int i = 0; i < kKeys; ++i) options.keys.push_back(api_key(i));
    options.threads = 2;
    fake_ = std::make_unique<FakeOmetria>(std::move(options));
    url_ = PostgresServer::shared().create_database();
  }
  std::string write_config(int keys = kKeys, json retry = json::object()) {
    json sources = json::array();
    for (int i = 0; i < keys; ++i)
      sources.push_back({{"name", "shop" + std::to_string(i)}, {"write_key", write_key(i)}, {"api_key", api_key(i)}});
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", {{"backend", "postgres"}, {"url", {{"env", "OMT_TEST_PG_QUEUE_URL"}}}, {"lease_timeout", "3s"}}},
        {"ometria", {{"endpoint", fake_->url()}, {"allow_plain_http", true}}},
        {"delivery", {{"requests_per_second", kRequestsPerSecond}, {"burst", kBurst}, {"linger", "20ms"}, {"retry", retry}}},
        {"sources", sources},
    };
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }
  std::unique_ptr<RunningBinary> start(const std::string& config) {
    return std::make_unique<RunningBinary>(std::vector<std::string>{"--config", config},
                                           std::vector<std::string>{"OMT_TEST_PG_QUEUE_URL=" + url_});
  }
  static std::string metrics_of(const RunningBinary& instance) {
    HttpClient client("127.0.0.1", instance.port);
    return client.get("/metrics").body;
  }
  // Posts one identify event to the instance; true when it was acknowledged (200: stored durably).
  static bool post_identify(const RunningBinary& instance, int key, const std::string& id) {
    try {
      HttpClient client("127.0.0.1", instance.port);
      const json body = {{"userId", "user-" + id}, {"traits", {{"email", id + "@example.com"}, {"listingId", id}}}};
      const auto answer = client.post("/v1/identify", body.dump(),
                                      {{"Authorization", basic_auth(write_key(key))}, {"Content-Type", "application/json"}});
      return answer.status == 200;
    } catch (const std::exception&) {
      return false;  // the instance is gone: not acknowledged
    }
  }

  // A backlog of `records` contact records for each of the first `keys` keys, written before any instance runs.
  std::set<std::string> enqueue_backlog(int keys, int records) {
    queue::PostgresQueueOptions o;
    o.url = url_;
    o.lease_owner = "the-test";
    auto q = queue::PostgresQueue::open(std::move(o));
    if (!q) throw std::runtime_error("cannot open the queue: " + q.error().message);
    std::set<std::string> ids;
    for (int i = 0; i < keys; ++i) {
      const auto some = enqueue_records(**q, api_key(i), RecordType::contact, records);
      ids.insert(some.begin(), some.end());
    }
    return ids;
  }
  // The shortest span in which the fake received rate + 1 pushes of the key (max(): it never received that many).
  std::chrono::steady_clock::duration shortest_span_of_rate_plus_one(const std::string& key) const {
    std::vector<std::chrono::steady_clock::time_point> times;
    for (const auto& r : fake_->requests())
      if (r.api_key == key && r.method == "POST" && r.target == "/v2/push") times.push_back(r.received);
    std::sort(times.begin(), times.end());
    auto shortest = std::chrono::steady_clock::duration::max();
    for (std::size_t i = kRequestsPerSecond; i < times.size(); ++i)
      shortest = std::min(shortest, times[i] - times[i - kRequestsPerSecond]);
    return shortest;
  }
  // Pushes of the key the fake answered (401s included).
  std::size_t pushes_seen(const std::string& key) const {
    const auto requests = fake_->requests();
    return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(), [&](const auto& r) {
      return r.api_key == key && r.method == "POST" && r.target == "/v2/push";
    }));
  }

  testing::TempDir dir_;
  std::unique_ptr<FakeOmetria> fake_;
  std::string url_;
};

TEST_F(PostgresOwnershipBinary, ThreeInstancesShareTheKeysSurviveASigkillAndHoldTheRateLimitTogether) {
  // A backlog of 80 pushes a key: at 8 pushes a second it flows while the instances join and hand keys over.
  std::set<std::string> expected = enqueue_backlog(kKeys, 8000);
  const std::string config = write_config();
  std::vector<std::unique_ptr<RunningBinary>> instances;
  for (int n = 0; n < kInstances; ++n) instances.push_back(start(config));

  // The keys spread: two each, within a few renewal periods (1 s each) of the last instance joining.
  bool spread = false;
  std::vector<long long> owned(kInstances);
  for (auto deadline = std::chrono::steady_clock::now() + 15s; !spread && std::chrono::steady_clock::now() < deadline;) {
    for (int n = 0; n < kInstances; ++n) owned[n] = metric(metrics_of(*instances[n]), "omt_delivery_owned_keys");
    spread = std::all_of(owned.begin(), owned.end(), [](long long v) { return v == kKeys / kInstances; });
    if (!spread) std::this_thread::sleep_for(100ms);  // polling a gauge, not synchronising
  }
  ASSERT_TRUE(spread) << "owned keys: " << owned[0] << ", " << owned[1] << ", " << owned[2] << "\n"
                      << instances[0]->child.output();

  // Events posted round robin, each to a key of its own turn; the second instance is killed half way.
  const int kEvents = 240;
  const int killed = 1;
  std::set<std::string> acknowledged;
  for (int e = 0; e < kEvents; ++e) {
    if (e == kEvents / 2) {
      instances[killed]->child.signal(SIGKILL);
      ASSERT_TRUE(instances[killed]->child.wait_exit(10s));
    }
    int n = e % kInstances;
    if (e >= kEvents / 2 && n == killed) n = (n + 1) % kInstances;
    const std::string id = "live-" + std::to_string(e);
    if (post_identify(*instances[n], e % kKeys, id)) acknowledged.insert(id);
  }
  EXPECT_EQ(acknowledged.size(), static_cast<std::size_t>(kEvents)) << "the live instances acknowledge every event";
  expected.insert(acknowledged.begin(), acknowledged.end());

  // Every acknowledged event and every backlog record arrives, the killed instance's keys included.
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, expected.size(), 90s))
      << distinct_ids(fake_->records()).size() << " of " << expected.size() << "\n"
      << instances[0]->child.output();
  const auto arrived = distinct_ids(fake_->records());
  for (const auto& id : expected) ASSERT_EQ(arrived.count(id), 1u) << id << " never arrived";

  // The killed instance's keys were taken over by the others once its claims expired.
  std::string survivors = instances[0]->child.output() + instances[2]->child.output();
  EXPECT_NE(survivors.find("(its owner's claim expired unrenewed)"), std::string::npos) << survivors;

  // One owner and one rate per key across the instances and their handovers: no second of arrivals holds more
  // than the rate, give or take the arrival jitter.
  std::size_t most = 0;
  for (const auto& [key, seconds] : fake_->pushes_per_second())
    for (const auto& [second, pushes] : seconds) most = std::max(most, pushes);
  EXPECT_GT(most, 0u);
  for (int i = 0; i < kKeys; ++i) {
    const auto shortest = shortest_span_of_rate_plus_one(api_key(i));
    ASSERT_NE(shortest, std::chrono::steady_clock::duration::max()) << api_key(i) << " had few pushes";
    EXPECT_GE(shortest, 1s - kArrivalJitter) << api_key(i) << ": " << kRequestsPerSecond + 1 << " pushes within "
                                             << std::chrono::duration_cast<std::chrono::milliseconds>(shortest).count()
                                             << " ms";
    std::cout << api_key(i) << ": " << kRequestsPerSecond + 1 << " pushes never within less than "
              << std::chrono::duration_cast<std::chrono::milliseconds>(shortest).count() << " ms\n";
  }
  std::cout << "most pushes of one key in one calendar second: " << most << " (limit " << kRequestsPerSecond
            << "/s, burst " << kBurst << ")\n";

  for (int n = 0; n < kInstances; ++n) {
    if (n == killed) continue;
    instances[n]->child.signal(SIGTERM);
    EXPECT_EQ(instances[n]->child.wait_exit(15s), 0) << instances[n]->child.output();
  }
}

// A handover on a stop: the owner stops (SIGTERM) in the middle of a backlog and gives its claim back; the other
// instance takes the key at its next round. The records the owner had leased and not pushed go back to the queue
// on the stop, so the new owner delivers them at once and first (left leased, they waited delivery.lease_for,
// 5 minutes, behind the newer records), and the second around the handover holds the rate (the new owner's first
// push waits a second; here the round's timing alone has kept the gap near a second in every run so far).
TEST_F(PostgresOwnershipBinary, AKeyHandedOverOnAStopNeverSeesMoreThanTheRateInASecond) {
  // 60 pushes of 100: over 7 s at 8 a second, so the key is mid-backlog when its owner stops.
  const std::set<std::string> expected = enqueue_backlog(1, 6000);
  const std::string config = write_config(1);
  auto first = start(config);
  // The first instance owns the key and pushes before the second starts, so the second cannot claim it.
  for (auto deadline = std::chrono::steady_clock::now() + 15s;
       pushes_seen(api_key(0)) < 8 && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(20ms);  // polling the fake's count, not synchronising
  ASSERT_GE(pushes_seen(api_key(0)), 8u) << first->child.output();
  auto second = start(config);
  std::this_thread::sleep_for(1500ms);  // the second registers and sees the key claimed; the first keeps pushing
  ASSERT_LT(distinct_ids(fake_->records()).size(), expected.size()) << "the backlog ran out before the handover";
  first->child.signal(SIGTERM);
  EXPECT_EQ(first->child.wait_exit(15s), 0) << first->child.output();

  ASSERT_TRUE(wait_for_distinct_ids(*fake_, expected.size(), 60s))
      << distinct_ids(fake_->records()).size() << " of " << expected.size() << "\n"
      << second->child.output();
  ASSERT_TRUE(second->child.wait_for_line("delivery: took over key", 1s)) << second->child.output();
  const auto shortest = shortest_span_of_rate_plus_one(api_key(0));
  EXPECT_GE(shortest, 1s - kArrivalJitter) << kRequestsPerSecond + 1 << " pushes within "
                                           << std::chrono::duration_cast<std::chrono::milliseconds>(shortest).count()
                                           << " ms\n" << second->child.output();
  std::cout << kRequestsPerSecond + 1 << " pushes never within less than "
            << std::chrono::duration_cast<std::chrono::milliseconds>(shortest).count() << " ms\n";
  second->child.signal(SIGTERM);
  EXPECT_EQ(second->child.wait_exit(15s), 0) << second->child.output();
}

// A key Ometria refused is held in the queue by the instance that delivered it; when that instance dies, the one
// that takes the key over keeps it held (nothing pushed but one probe every auth_probe_interval) and probes it,
// so the key flows again once Ometria accepts it. Without adopting the hold the new owner would push nothing of
// the key for ever: a held key is never ready.
TEST_F(PostgresOwnershipBinary, AHeldKeyStaysHeldAndIsProbedByTheInstanceThatTakesItOverFromADeadOwner) {
  const std::string key = api_key(0);
  fake_->set_key_status(key, 401);
  const std::string config = write_config(1, {{"auth_probe_interval", "2s"}});
  // Both run before the key is refused, so neither holds it from its start-up (restore_holds): the survivor can only
  // learn of the hold from the queue when it takes the key over.
  std::vector<std::unique_ptr<RunningBinary>> instances;
  for (int n = 0; n < 2; ++n) instances.push_back(start(config));
  ASSERT_TRUE(post_identify(*instances[0], 0, "held-1"));
  int owner = -1;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; owner < 0 && std::chrono::steady_clock::now() < deadline;) {
    for (int n = 0; n < 2; ++n)
      if (instances[n]->child.output().find("Ometria refused key") != std::string::npos) owner = n;
    if (owner < 0) std::this_thread::sleep_for(50ms);  // polling the logs, not synchronising
  }
  ASSERT_GE(owner, 0) << instances[0]->child.output() << instances[1]->child.output();
  {
    // The owner logs the refusal before its hold reaches the queue: killed in between, it leaves no hold to adopt
    // (the survivor then pushes, is refused and holds the key itself). This test is about a hold in the queue.
    queue::PostgresQueueOptions o;
    o.url = url_;
    o.lease_owner = "the-test";
    o.take_over_leases = false;
    auto q = queue::PostgresQueue::open(std::move(o));
    ASSERT_TRUE(q) << q.error().message;
    bool held = false;
    for (auto deadline = std::chrono::steady_clock::now() + 20s; !held && std::chrono::steady_clock::now() < deadline;) {
      auto keys = (*q)->held_keys();
      held = keys && std::any_of(keys->begin(), keys->end(), [&](const auto& h) { return h.api_key == key; });
      if (!held) std::this_thread::sleep_for(50ms);  // polling the queue, not synchronising
    }
    ASSERT_TRUE(held) << instances[owner]->child.output();
  }
  RunningBinary& next = *instances[1 - owner];
  instances[owner]->child.signal(SIGKILL);
  ASSERT_TRUE(instances[owner]->child.wait_exit(10s));
  const auto killed_at = std::chrono::steady_clock::now();
  const std::size_t before = pushes_seen(key);

  ASSERT_TRUE(next.child.wait_for_line("by the instance that delivered it before: held here too", 20s))
      << next.child.output();
  ASSERT_TRUE(next.child.wait_for_line("probing key", 20s)) << next.child.output();
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       pushes_seen(key) == before && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(50ms);  // polling the fake's count, not synchronising
  ASSERT_GT(pushes_seen(key), before) << "the new owner probed the key";
  // Still held: a push per probe (every 2 s), not a retry loop.
  const auto held_for = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - killed_at);
  EXPECT_LE(pushes_seen(key) - before, static_cast<std::size_t>(held_for.count() / 2 + 2)) << next.child.output();

  fake_->clear_key_status(key);
  ASSERT_TRUE(wait_for_distinct_ids(*fake_, 1, 30s)) << next.child.output();
  EXPECT_EQ(distinct_ids(fake_->records()).count("held-1"), 1u);
  next.child.signal(SIGTERM);
  EXPECT_EQ(next.child.wait_exit(15s), 0) << next.child.output();
}

}  // namespace
}  // namespace omt::test
