// The delivery proxy's pushes in the request log, through the real binary: `serve` with a queue (sources
// configured) relays rudder-server's proxy request to the fake Ometria, and `requests` then lists the push as
// delivery's own are listed: source "rudderstack-proxy", lane live, the push's record type and count, Ometria's
// status, the key only as its fingerprint. A source's own name does not list it (the proxy names no source).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_run.hpp"
#include "delivery_harness.hpp"
#include "fake_ometria.hpp"
#include "http_client.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;

const std::string kKey = "proxy-log-key";

json proxy_request(const std::string& endpoint, const std::string& batch) {
  return {{"version", "1"},
          {"type", "REST"},
          {"method", "POST"},
          {"endpoint", endpoint},
          {"headers", {{"X-Ometria-Auth", kKey}}},
          {"params", json::object()},
          {"body", {{"JSON", json::object()}, {"JSON_ARRAY", {{"batch", batch}}}, {"XML", json::object()}, {"FORM", json::object()}}},
          {"files", json::object()},
          {"metadata", json::array({{{"jobId", 1}, {"attemptNum", 0}, {"destinationId", "d1"}, {"workspaceId", "w1"}}})}};
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

TEST(RequestLogProxyBinary, TheProxysPushesAreLoggedAsRudderstackProxyInTheLiveLane) {
  testing::FakeOmetriaOptions options;
  options.keys = {kKey};
  testing::FakeOmetria fake(options);
  testing::TempDir dir;
  const json config = {
      {"queue", {{"path", dir.file("queue.db")}, {"durability", "normal"}}},
      {"ometria", {{"endpoint", fake.url()}, {"allow_plain_http", true}}},
      {"sources", json::array({{{"name", "web"}, {"write_key", "wk-web"}, {"api_key", kKey}}})},
  };
  const std::string config_path = dir.file("config.json");
  std::ofstream(config_path) << config.dump(2);
  RunningBinary serve({"--config", config_path});

  HttpClient client("127.0.0.1", serve.port);
  const std::string batch = R"([{"@type":"order","id":"o1","timestamp":"2024-05-01T10:00:00Z","grand_total":1,"currency":"GBP"},)"
                            R"({"@type":"contact","id":"c1","email":"a@example.com"}])";
  const auto answer = client.post("/v1/destinations/ometria/proxy", proxy_request(fake.url(), batch).dump(),
                                  {{"Content-Type", "application/json"}});
  ASSERT_EQ(answer.status, 200) << answer.body;
  ASSERT_EQ(fake.records().size(), 2u);

  // Written soon after the reply, in the queue's next transaction.
  const std::string requests = "requests --json --config '" + config_path + "'";
  std::vector<json> logged;
  ASSERT_TRUE(eventually([&] {
    logged = json_lines(run(requests + " --source rudderstack-proxy").out);
    return !logged.empty();
  })) << run(requests, true).out;
  ASSERT_EQ(logged.size(), 1u);
  const json& entry = logged[0];
  EXPECT_EQ(entry["source"], "rudderstack-proxy");
  EXPECT_EQ(entry["lane"], "live");
  EXPECT_EQ(entry["type"], "order") << "the type of the push's first record";
  EXPECT_EQ(entry["records"], 2);
  EXPECT_EQ(entry["status"], 202);
  EXPECT_GE(entry["duration_ms"].get<std::int64_t>(), 0);
  EXPECT_EQ(entry.dump().find(kKey), std::string::npos) << "the key in clear: " << entry.dump();
  EXPECT_FALSE(entry["key"].get<std::string>().empty());
  // The key is web's, but the proxy's request names no source: web's own pushes are another selection.
  EXPECT_TRUE(json_lines(run(requests + " --source web").out).empty());
  EXPECT_EQ(json_lines(run(requests).out).size(), 1u);
}

}  // namespace
}  // namespace omt::test
