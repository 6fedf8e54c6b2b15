// `ometria-transformer requests` run as the real binary on a real queue whose request log holds a few pushes: the
// table (newest first), JSON lines, each selection (--source, --since, --status, --limit, --oldest-first), the
// queue found from --config, and clear errors naming the option for bad values.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "omt/queue/request_log.hpp"
#include "omt/queue/sqlite_queue.hpp"

namespace {

using omt::queue::RecordType;
using omt::queue::RequestLogEntry;
using omt::test::run;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class RequestsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-requests-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ / "queue.db";
    omt::queue::SqliteQueueOptions options;
    options.path = db_;
    auto q = omt::queue::SqliteQueue::open(options);
    ASSERT_TRUE(q) << q.error().message;
    const auto at = now_ms();
    // Oldest first: a delivered push two days ago, a 429, a timeout, a backfill push of another source, a 400.
    std::vector<RequestLogEntry> entries(5);
    entries[0] = {at - 2 * 86'400'000, "web", "key:1a2b3c4d", RecordType::contact, omt::queue::Lane::live, 100, 202, "",
                  "req-old", 100, 0, 120};
    entries[1] = {at - 60'000, "web", "key:1a2b3c4d", RecordType::contact, omt::queue::Lane::live, 40, 429, "",
                  std::nullopt, std::nullopt, std::nullopt, 15};
    entries[2] = {at - 50'000, "web", "key:1a2b3c4d", RecordType::order, omt::queue::Lane::live, 3, 0, "timeout",
                  std::nullopt, std::nullopt, std::nullopt, 30000};
    entries[3] = {at - 40'000, "shop, app", "key:99887766", RecordType::order, omt::queue::Lane::backfill, 100, 202,
                  "", "req-new", 98, 2, 250};
    entries[4] = {at - 30'000, "web", "key:1a2b3c4d", RecordType::custom_event, omt::queue::Lane::live, 1, 400, "",
                  std::nullopt, std::nullopt, std::nullopt, 12};
    std::promise<bool> stored;
    (*q)->log_pushes(entries, [&](const omt::Error* err) { stored.set_value(err == nullptr); });
    ASSERT_TRUE(stored.get_future().get());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string queue_arg() const { return "--queue '" + db_.string() + "'"; }
  // The request ids of `requests ... --json`, in the order printed.
  std::vector<std::string> listed(const std::string& options) {
    const auto r = run("requests " + queue_arg() + " --json " + options);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    std::vector<std::string> ids;
    for (const auto& line : lines_of(r.out)) {
      const auto j = nlohmann::json::parse(line);
      ids.push_back(std::to_string(j["records"].get<int>()) + "/" + std::to_string(j["status"].get<int>()));
    }
    return ids;
  }

  std::filesystem::path dir_;
  std::filesystem::path db_;
};

TEST_F(RequestsCliTest, PrintsATableNewestFirst) {
  const auto r = run("requests " + queue_arg());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  EXPECT_EQ(lines[0].rfind("TIME ", 0), 0u) << lines[0];
  for (const char* column : {"SOURCE", "KEY", "TYPE", "LANE", "RECORDS", "STATUS", "REQUEST_ID", "ACCEPTED", "REJECTED", "MS"})
    EXPECT_NE(lines[0].find(column), std::string::npos) << column;
  EXPECT_NE(lines[1].find("custom_event"), std::string::npos) << lines[1];  // the newest: the 400
  EXPECT_NE(lines[1].find(" 400 "), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("shop, app"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("backfill"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("req-new"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("timeout"), std::string::npos) << lines[3];  // no answer: why, in place of a status
  EXPECT_NE(lines[5].find("req-old"), std::string::npos) << lines[5];
  // Columns line up: every row has its time, 24 characters, then two spaces.
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i].substr(24, 2), "  ") << lines[i];
}

TEST_F(RequestsCliTest, PrintsJsonLinesWithEveryField) {
  const auto r = run("requests " + queue_arg() + " --json --limit 3");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  const auto backfill = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(backfill["source"], "shop, app");
  EXPECT_EQ(backfill["key"], "key:99887766");
  EXPECT_EQ(backfill["type"], "order");
  EXPECT_EQ(backfill["lane"], "backfill");
  EXPECT_EQ(backfill["records"], 100);
  EXPECT_EQ(backfill["status"], 202);
  EXPECT_EQ(backfill["request_id"], "req-new");
  EXPECT_EQ(backfill["accepted"], 98);
  EXPECT_EQ(backfill["rejected"], 2);
  EXPECT_EQ(backfill["duration_ms"], 250);
  EXPECT_TRUE(backfill["time"].get<std::string>().ends_with("Z"));
  EXPECT_FALSE(backfill.contains("failure"));
  const auto timed_out = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(timed_out["status"], 0);
  EXPECT_EQ(timed_out["failure"], "timeout");
  EXPECT_TRUE(timed_out["request_id"].is_null());
  EXPECT_TRUE(timed_out["accepted"].is_null());
}

TEST_F(RequestsCliTest, SelectsBySourceTimeStatusAndOrder) {
  EXPECT_EQ(listed("--source app"), (std::vector<std::string>{"100/202"}));
  EXPECT_EQ(listed("--source web --since 1h"), (std::vector<std::string>{"1/400", "3/0", "40/429"}));
  EXPECT_EQ(listed("--status 2xx"), (std::vector<std::string>{"100/202", "100/202"}));
  EXPECT_EQ(listed("--status 429"), (std::vector<std::string>{"40/429"}));
  EXPECT_EQ(listed("--status 0"), (std::vector<std::string>{"3/0"}));
  EXPECT_EQ(listed("--oldest-first --limit 2"), (std::vector<std::string>{"100/202", "40/429"}));
  EXPECT_EQ(listed("--since 2000-01-01T00:00:00Z --limit 0").size(), 5u);
  EXPECT_TRUE(listed("--source nobody").empty());
  // One source name, whole: a key shared by shop and app is either's; part of a name, or two joined, is neither.
  EXPECT_EQ(listed("--source shop"), (std::vector<std::string>{"100/202"}));
  EXPECT_TRUE(listed("--source sho").empty());
  EXPECT_TRUE(listed("--source we").empty());
  EXPECT_TRUE(listed("--source 'shop, app'").empty());
}

TEST_F(RequestsCliTest, FindsTheQueueFromTheConfiguration) {
  const auto file = dir_ / "config.json";
  std::ofstream(file) << nlohmann::json{{"queue", {{"path", db_.string()}}}};
  const auto r = run("requests --json --config '" + file.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(lines_of(r.out).size(), 5u);
}

TEST_F(RequestsCliTest, BadOptionsAreClearErrorsNamingTheOption) {
  const auto status = run("requests " + queue_arg() + " --status abc", /*stderr_too=*/true);
  EXPECT_EQ(status.exit_code, 2);
  EXPECT_NE(status.out.find("ometria-transformer requests: --status: expected an HTTP status"), std::string::npos)
      << status.out;
  EXPECT_EQ(run("requests " + queue_arg() + " --status 700").exit_code, 2);
  const auto since = run("requests " + queue_arg() + " --since yesterday", true);
  EXPECT_EQ(since.exit_code, 2);
  EXPECT_NE(since.out.find("requests: --since: expected a time like"), std::string::npos) << since.out;
  const auto limit = run("requests " + queue_arg() + " --limit -1", true);
  EXPECT_EQ(limit.exit_code, 2);
  EXPECT_NE(limit.out.find("--limit"), std::string::npos) << limit.out;
  const auto missing = run("requests --queue '" + (dir_ / "none.db").string() + "'", true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("ometria-transformer requests: "), std::string::npos) << missing.out;
}

}  // namespace
