// Lanes through the real binary and the fake-ometria program: 100,000 backfill records in the queue file (written
// through the queue API before the server starts, as `import` would), delivery at 8 pushes/s per key (eight
// backfill pushers competing for each token) against a
// fake that answers 429 past 10 pushes a second; a live event posted over HTTP reaches the fake within 2 s, and
// ingest never answers 429 however large the backfill is. And freshness: an undeliverable live record turns
// /health "degraded" (still 200) and shows in omt_queue_oldest_live_record_age_seconds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "child_process.hpp"
#include "delivery_harness.hpp"
#include "fake_ometria_program.hpp"
#include "http_client.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using ometria::RecordType;
using queue::Lane;

const std::string kKey = "lanes-binary-key";
const std::string kWriteKey = "wk-lanes";

// The fake-ometria program for the lanes' key, its records written as JSON lines to `out`.
struct RunningFake : RunningFakeProgram {
  RunningFake(const std::string& out, const std::vector<std::string>& extra) : RunningFakeProgram(kKey, out, extra) {}
};

class DeliveryLanesBinary : public ::testing::Test {
 protected:
  std::string queue_path() const { return dir_.file("queue.db"); }

  std::string write_config(std::uint16_t fake_port, json delivery) {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "2s"}}},
        // A small high-water mark: were the backfill counted, every ingest request would be answered 429.
        {"queue", {{"path", queue_path()}, {"durability", "normal"}, {"high_water_mark", 1000}}},
        {"ometria",
         {{"endpoint", "http://127.0.0.1:" + std::to_string(fake_port) + "/v2/push"}, {"allow_plain_http", true}}},
        {"delivery", std::move(delivery)},
        {"sources", json::array({{{"name", "web"}, {"write_key", kWriteKey}, {"api_key", kKey}}})},
    };
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }

  RunningBinary start_binary(const std::string& config) { return RunningBinary({"--config", config}); }

  HttpResponse post_track(std::uint16_t port, const std::string& event) {
    HttpClient client("127.0.0.1", port);
    const json body = {{"userId", "u1"},
                       {"event", event},
                       {"properties", {{"note", "live"}}},
                       {"context", {{"traits", {{"email", "live@example.com"}}}}}};
    return client.post("/v1/track", body.dump(),
                       {{"Authorization", basic_auth(kWriteKey)}, {"Content-Type", "application/json"}});
  }

  // Whether the fake's --out file holds a line with `needle`.
  static bool file_has(const std::string& path, const std::string& needle) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
      if (line.find(needle) != std::string::npos) return true;
    return false;
  }

  testing::TempDir dir_;
};

TEST_F(DeliveryLanesBinary, TheFakesRateLimitAnswers429WithRetryAfterPastNPushesOfAKeyInASecond) {
  RunningFake fake(dir_.file("ometria.jsonl"), {"--rate-limit", "3"});
  HttpClient client("127.0.0.1", fake.port);
  std::vector<int> statuses;
  std::string retry_after;
  for (int i = 0; i < 8; ++i) {
    const auto answer = client.post("/v2/push", R"([{"@type":"contact","id":"c1"}])", {{"X-Ometria-Auth", kKey}});
    statuses.push_back(answer.status);
    if (answer.status == 429) retry_after = answer.header("Retry-After");
  }
  // Eight pushes on the loopback take milliseconds: the fourth is past three in a second.
  EXPECT_EQ(std::vector<int>(statuses.begin(), statuses.begin() + 4), (std::vector<int>{202, 202, 202, 429}));
  const auto refused = static_cast<std::size_t>(std::count(statuses.begin(), statuses.end(), 429));
  EXPECT_EQ(retry_after, "1");
  const auto stats = fake.rates();
  EXPECT_EQ(stats["rate_limited"].get<std::size_t>(), refused);
  std::size_t seen = 0;
  for (const auto& [second, pushes] : stats["pushes_per_key_second"][kKey].items()) seen += pushes.get<std::size_t>();
  EXPECT_EQ(seen, 8u) << "every push is counted in its second, the refused ones too";
}

TEST_F(DeliveryLanesBinary, ALiveEventReachesOmetriaWithinTwoSecondsBehindAHundredThousandBackfillRecords) {
  {
    auto queue = open_queue(queue_path());
    std::vector<queue::NewRecord> batch;
    for (int n = 0; n < 100'000; ++n) {
      batch.push_back(make_record(kKey, RecordType::contact, n));
      batch.back().lane = Lane::backfill;
      if (batch.size() == 10'000) {
        auto stored = queue->enqueue(std::move(batch)).get();
        ASSERT_TRUE(stored) << stored.error().message;
        batch.clear();
      }
    }
    ASSERT_EQ(queue->lane_depth(Lane::backfill), 100'000u);
  }
  const std::string out = dir_.file("ometria.jsonl");
  RunningFake fake(out, {"--rate-limit", "10"});  // Ometria's 429 past its rate: delivery stays under it
  const auto config = write_config(fake.port, {{"requests_per_second", 8}, {"burst", 1}, {"linger", "20ms"}, {"pushes_per_partition", 8}});
  auto server = start_binary(config);

  // The backfill flows at the rate first.
  ASSERT_TRUE(eventually([&] { return fake.stats()["pushes"].get<int>() >= 8; }, 10s)) << fake.stats().dump();

  const auto posted = std::chrono::steady_clock::now();
  const auto answer = post_track(server.port, "lanes_live_probe");
  ASSERT_EQ(answer.status, 200) << "ingest refused while a large backfill waits: " << answer.body;
  ASSERT_TRUE(eventually([&] { return file_has(out, "lanes_live_probe"); }, 20s))
      << "the live event never reached the fake Ometria";
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - posted);
  std::printf("[ lanes    ] live event behind 100,000 backfill records at 8 pushes/s reached Ometria in %lld ms\n",
              static_cast<long long>(latency.count()));
  EXPECT_LT(latency, 2000ms) << "the spec: a live event reaches Ometria within 2 s however much backfill waits ("
                             << latency.count() << " ms here; the machine may be very busy)";

  // More ingest while the backfill is still large: never a 429.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post_track(server.port, "lanes_more_" + std::to_string(i)).status, 200);

  HttpClient client("127.0.0.1", server.port);
  const auto health = json::parse(client.get("/health").body);
  const std::string queue_detail = health["checks"]["queue"]["detail"];
  EXPECT_NE(queue_detail.find(", backfill "), std::string::npos) << queue_detail;

  // What Ometria's side saw: at most the configured rate per second, give or take a token at a second's edge.
  const auto stats = fake.rates();
  std::size_t busiest = 0;
  for (const auto& [second, pushes] : stats["pushes_per_key_second"][kKey].items()) {
    busiest = std::max(busiest, pushes.get<std::size_t>());
  }
  std::printf("[ lanes    ] busiest second: %zu pushes; answered 429 for the rate: %zu\n", busiest,
              stats["rate_limited"].get<std::size_t>());
  EXPECT_LE(busiest, 10u) << stats.dump();
}

TEST_F(DeliveryLanesBinary, AnUndeliverableLiveRecordTurnsHealthDegradedAndShowsItsAgePerSource) {
  const std::string out = dir_.file("ometria.jsonl");
  RunningFake fake(out, {"--status", "503"});  // every push fails: the live record stays queued
  const auto config = write_config(fake.port, {{"requests_per_second", 0},
                                               {"linger", "20ms"},
                                               {"freshness_warning", "1s"},
                                               {"retry", {{"base_delay", "50ms"}, {"max_delay", "200ms"}}}});
  auto server = start_binary(config);
  HttpClient client("127.0.0.1", server.port);
  auto health = json::parse(client.get("/health").body);
  EXPECT_EQ(health["status"], "ok") << health.dump();

  ASSERT_EQ(post_track(server.port, "lanes_stuck").status, 200);
  HttpResponse answer;
  ASSERT_TRUE(eventually(
      [&] {
        answer = client.get("/health");
        return json::parse(answer.body)["status"] == "degraded";
      },
      20s))
      << answer.body;
  EXPECT_EQ(answer.status, 200) << "degraded, not unavailable: nothing should restart the service for it";
  health = json::parse(answer.body);
  EXPECT_EQ(health["checks"]["freshness"]["ok"], false);
  const std::string reason = health["reason"];
  EXPECT_NE(reason.find("(web)"), std::string::npos) << reason;
  EXPECT_NE(reason.find("delivery.freshness_warning"), std::string::npos) << reason;

  // The gauge: the record's age in whole seconds, past the 1 s warning by now.
  const std::string series = "omt_queue_oldest_live_record_age_seconds{source=\"web\"} ";
  std::string metrics;
  ASSERT_TRUE(eventually(
      [&] {
        metrics = client.get("/metrics").body;
        const auto at = metrics.find(series);
        return at != std::string::npos && std::stoll(metrics.substr(at + series.size())) >= 1;
      },
      20s))
      << metrics;
}

}  // namespace
}  // namespace omt::test
