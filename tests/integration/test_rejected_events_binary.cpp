// No event dropped at the door, through the real binaries: `serve` answers an event it cannot transform 200 with
// its rejected entry and keeps it; `dead-letter list --events` shows it; once the mapping is fixed,
// `dead-letter replay --events` (beside the running service) transforms it again and the service delivers it to the
// fake Ometria. Also the replay's answers for a source no longer configured and for an event that still fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "mapping_dir.hpp"
#include "tls_fake_ometria.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using testing::FakeOmetriaOptions;

const std::string kKey = "key-shop-secret";

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The binary with args (each one single-quoted), stdout and stderr captured apart in files of dir.
RunResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  std::string command = OMT_BINARY;
  for (const auto& a : args) command += " '" + a + "'";
  command += " >'" + (dir / "cli.out").string() + "' 2>'" + (dir / "cli.err").string() + "'";
  const int status = std::system(command.c_str());
  return RunResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir / "cli.out"), read_file(dir / "cli.err")};
}

class RejectedEventsBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {kKey};
    fake_ = std::make_unique<testing::TlsFakeOmetria>(dir_.path(), std::move(options));
  }

  // The service's configuration, with the mapping folder of this test (a copy it can fix) and the given sources.
  std::string write_config(const json& sources) {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"mappings_dir", mappings_.path().string()},
        {"queue", {{"path", dir_.file("queue.db")}, {"durability", "normal"}}},
        {"ometria", fake_->ometria_config()},
        {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}}},
        {"sources", sources},
    };
    const std::string path = dir_.file("config.json");
    std::ofstream(path, std::ios::trunc) << config.dump(2);
    return path;
  }
  static json shop_source() { return json::array({{{"name", "shop"}, {"write_key", "wk-shop"}, {"api_key", kKey}}}); }

  std::unique_ptr<ChildProcess> start_binary(const std::string& config_path, std::uint16_t& port) {
    auto child = std::make_unique<ChildProcess>(OMT_BINARY, std::vector<std::string>{"serve", "--config", config_path});
    const auto line = child->wait_for_line("listening on", 10s);
    if (!line) throw std::runtime_error("the service did not start: " + child->output());
    port = port_from_listening_line(*line);
    return child;
  }

  RunResult cli(std::vector<std::string> args) { return run_cli(args, dir_.path()); }

  // An identify whose e-mail the shop's app sends as traits.mail: the mapping does not know that path yet.
  static json identify_with_mail(int n) {
    return {{"type", "identify"},
            {"userId", "u" + std::to_string(n)},
            {"traits", {{"mail", "ann" + std::to_string(n) + "@example.com"}, {"listingId", "cust-" + std::to_string(n)}}}};
  }
  // The fix: the contact mapping also takes the e-mail from traits.mail.
  void fix_the_mapping() {
    mappings_.replace("contact.json", R"("from": ["traits.email", "context.traits.email"], "required": true)",
                      R"("from": ["traits.email", "context.traits.email", "traits.mail"], "required": true)");
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TlsFakeOmetria> fake_;
  MappingDir mappings_;
};

TEST_F(RejectedEventsBinaryTest, AnEventTheMappingCannotTakeIsKeptListedAndAfterTheFixReplayedAndDelivered) {
  const std::string config = write_config(shop_source());
  std::uint16_t port = 0;
  auto child = start_binary(config, port);
  HttpClient client("127.0.0.1", port);
  const Headers auth = {{"Authorization", basic_auth("wk-shop")}, {"Content-Type", "application/json"}};
  const json good = {{"type", "identify"}, {"userId", "u0"}, {"traits", {{"email", "bo@example.com"}, {"listingId", "cust-0"}}}};

  auto response = client.post("/v1/batch", json{{"batch", json::array({good, identify_with_mail(1)})}}.dump(), auth);
  ASSERT_EQ(response.status, 200) << response.body;
  const std::string reason = R"(Missing required value from ["traits.email","context.traits.email"])";
  const json answer = json::parse(response.body);
  EXPECT_EQ(answer["accepted"], 1);
  ASSERT_EQ(answer["rejected"].size(), 1u);
  EXPECT_EQ(answer["rejected"][0]["index"], 1);
  EXPECT_EQ(answer["rejected"][0]["error"], reason);
  // Every event sent alone and rejected is a 200 as well (the client handed it over).
  response = client.post("/v1/identify", identify_with_mail(2).dump(), auth);
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_TRUE(fake_->wait_for_records(1, kWait));  // the good one

  // Listed with the reason, the source and the route, beside the running service.
  auto listed = cli({"dead-letter", "list", "--events", "--config", config});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json list = json::parse(listed.out);
  ASSERT_EQ(list["count"], 2) << listed.out;
  EXPECT_EQ(list["rejected_events"][0]["source"], "shop");
  EXPECT_EQ(list["rejected_events"][0]["route"], "/v1/batch");
  EXPECT_EQ(list["rejected_events"][0]["reason"], reason);
  EXPECT_EQ(list["rejected_events"][0]["event"]["traits"]["mail"], "ann1@example.com");
  EXPECT_EQ(list["rejected_events"][1]["route"], "/v1/identify");
  auto stats = cli({"queue", "stats", "--config", config});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(json::parse(stats.out)["rejected_events"], 2);

  // A replay before the fix changes nothing but says so.
  auto again = cli({"dead-letter", "replay", "--events", "--config", config});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["enqueued"], 0) << again.out;
  EXPECT_EQ(json::parse(again.out)["still_rejected"], 2);
  EXPECT_EQ(json::parse(again.out)["still_rejected_reasons"][reason], 2);

  // The fix, then the replay: both are delivered by the running service.
  fix_the_mapping();
  auto replayed = cli({"dead-letter", "replay", "--events", "--config", config});
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  const json summary = json::parse(replayed.out);
  EXPECT_EQ(summary["enqueued"], 2) << replayed.out;
  EXPECT_EQ(summary["still_rejected"], 0);
  EXPECT_EQ(summary["gone"], 0);
  EXPECT_NE(replayed.err.find("rejected events replayed: 2 became records, 0 still fail"), std::string::npos)
      << replayed.err;
  ASSERT_TRUE(fake_->wait_for_records(3, kWait)) << child->output();
  std::set<std::string> emails;
  for (const auto& r : fake_->records()) emails.insert(json::parse(r.json)["email"].get<std::string>());
  EXPECT_EQ(emails, (std::set<std::string>{"bo@example.com", "ann1@example.com", "ann2@example.com"}));
  for (const auto& r : fake_->records()) EXPECT_EQ(r.api_key, kKey);

  listed = cli({"dead-letter", "list", "--events", "--config", config});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out)["count"], 0) << listed.out;

  child->signal(SIGTERM);
  EXPECT_EQ(child->wait_exit(10s), 0) << child->output();
}

TEST_F(RejectedEventsBinaryTest, ReplaySelectsBySourceAndTimeAndKeepsEventsOfASourceNoLongerConfigured) {
  const json two_sources = json::array({{{"name", "shop"}, {"write_key", "wk-shop"}, {"api_key", kKey}},
                                        {{"name", "old-shop"}, {"write_key", "wk-old"}, {"api_key", kKey}}});
  std::string config = write_config(two_sources);
  std::uint16_t port = 0;
  auto child = start_binary(config, port);
  HttpClient client("127.0.0.1", port);
  for (const char* key : {"wk-shop", "wk-old"}) {
    auto response = client.post("/v1/identify", identify_with_mail(1).dump(), {{"Authorization", basic_auth(key)}});
    ASSERT_EQ(response.status, 200) << response.body;
  }
  child->signal(SIGTERM);
  ASSERT_EQ(child->wait_exit(10s), 0) << child->output();

  auto by_source = cli({"dead-letter", "list", "--events", "--source", "old-shop", "--config", config});
  ASSERT_EQ(by_source.exit_code, 0) << by_source.err;
  EXPECT_EQ(json::parse(by_source.out)["count"], 1);
  auto future = cli({"dead-letter", "list", "--events", "--since", "2999-01-01T00:00:00Z", "--config", config});
  ASSERT_EQ(future.exit_code, 0) << future.err;
  EXPECT_EQ(json::parse(future.out)["count"], 0);
  auto recent = cli({"dead-letter", "list", "--events", "--since", "1h", "--config", config});
  ASSERT_EQ(recent.exit_code, 0) << recent.err;
  EXPECT_EQ(json::parse(recent.out)["count"], 2);
  for (const auto& [since, count] : std::vector<std::pair<std::string, int>>{
           {"2000-01-01", 2}, {"2000-01-01 10:30", 2}, {"2999-01-01T00:00:00.5+01:00", 0}, {"2999-01-01t00:00z", 0}}) {
    auto r = cli({"dead-letter", "list", "--events", "--since", since, "--config", config});
    ASSERT_EQ(r.exit_code, 0) << since << ": " << r.err;
    EXPECT_EQ(json::parse(r.out)["count"], count) << since;
  }
  for (const char* bad : {"yesterday", "2026-13-01", "2026-02-30", "2026-12-01T25:00", "2026-12-01T10:00+0x"}) {
    auto r = cli({"dead-letter", "list", "--events", "--since", bad, "--config", config});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--since: expected a time like"), std::string::npos) << r.err;
  }
  auto no_sources = cli({"dead-letter", "replay", "--events", "--queue", dir_.file("queue.db")});
  EXPECT_EQ(no_sources.exit_code, 2);
  EXPECT_NE(no_sources.err.find("pass the service's --config FILE"), std::string::npos) << no_sources.err;
  auto mixed = cli({"dead-letter", "list", "--since", "1h", "--config", config});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("add --events"), std::string::npos) << mixed.err;

  // old-shop is gone from the configuration: its event is kept as it is, and the summary names the source.
  config = write_config(shop_source());
  fix_the_mapping();
  auto replayed = cli({"dead-letter", "replay", "--events", "--config", config});
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  const json summary = json::parse(replayed.out);
  EXPECT_EQ(summary["enqueued"], 1) << replayed.out;
  EXPECT_EQ(summary["unknown_sources"]["old-shop"], 1);
  auto left = cli({"dead-letter", "list", "--events", "--config", config});
  ASSERT_EQ(left.exit_code, 0) << left.err;
  const json list = json::parse(left.out);
  ASSERT_EQ(list["count"], 1);
  EXPECT_EQ(list["rejected_events"][0]["source"], "old-shop");
  auto queue = open_queue(dir_.file("queue.db"));
  EXPECT_EQ(queue->depth(), 1u);  // the shop's event, waiting for the next start
}

}  // namespace
}  // namespace omt::test
