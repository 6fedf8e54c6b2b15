// The operator subcommands (queue stats, dead-letter list|replay|purge) run as the real binary on a real queue.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "omt/obs/log.hpp"
#include "omt/queue/sqlite_queue.hpp"

namespace {

using omt::queue::NewRecord;
using omt::queue::RecordType;
using omt::queue::SqliteQueue;
using omt::test::run;

class QueueCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ / "queue.db";
    omt::queue::SqliteQueueOptions options;
    options.path = db_;
    auto q = SqliteQueue::open(options);
    ASSERT_TRUE(q) << q.error().message;
    auto ids = (*q)->enqueue({NewRecord{"secret-key-1", RecordType::contact, R"({"@type":"contact","id":"a"})"},
                              NewRecord{"secret-key-1", RecordType::contact, R"({"@type":"contact","id":"b"})"},
                              NewRecord{"secret-key-1", RecordType::order, R"({"@type":"order","id":"o"})"},
                              NewRecord{"secret-key-2", RecordType::custom_event, R"({"@type":"custom_event","id":"e"})"}})
                   .get();
    ASSERT_TRUE(ids);
    ids_ = *ids;
    ASSERT_EQ(*(*q)->dead_letter({ids_[0], ids_[1]}, "HTTP 400 Bad Request: Ometria refused the payload"), 2u);
    ASSERT_TRUE((*q)->hold_key("secret-key-2", "HTTP 401 Unauthorized: Ometria refused the API key"));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string queue_arg() const { return "--queue '" + db_.string() + "'"; }
  // A configuration whose source "web" has a new key and "app" has secret-key-1 (from the environment, as serve
  // reads it): secret-key-2 is a key no source has any more.
  std::string config_arg() const {
    const auto file = dir_ / "config.json";
    std::ofstream(file) << nlohmann::json{
        {"queue", {{"path", db_.string()}}},
        {"sources", nlohmann::json::array({{{"name", "web"}, {"write_key", "wk-web"}, {"api_key", "secret-key-new"}},
                                           {{"name", "app"}, {"write_key", "wk-app"}, {"api_key", {{"env", "OMT_QCLI_APP_KEY"}}}}})}};
    return "--config '" + file.string() + "'";
  }
  static constexpr const char* kAppKeyEnv = "OMT_QCLI_APP_KEY=secret-key-1";

  std::filesystem::path dir_, db_;
  std::vector<omt::queue::RecordId> ids_;
};

TEST_F(QueueCliTest, StatsShowsDepthPerKeyAndTypeWithKeysFingerprinted) {
  auto r = run("queue stats " + queue_arg());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("secret-key"), std::string::npos) << "an API key was printed: " << r.out;
  auto stats = nlohmann::json::parse(r.out);
  EXPECT_EQ(stats["depth"], 2);
  EXPECT_EQ(stats["dead_letters"], 2);
  EXPECT_TRUE(stats["oldest_age_seconds"].is_number());
  ASSERT_EQ(stats["partitions"].size(), 2u);
  EXPECT_EQ(stats["partitions"][0]["key"], omt::obs::key_fingerprint("secret-key-1"));
  EXPECT_EQ(stats["partitions"][0]["type"], "order");
  EXPECT_EQ(stats["partitions"][0]["depth"], 1);
  EXPECT_EQ(stats["partitions"][1]["type"], "custom_event");
  ASSERT_EQ(stats["held_keys"].size(), 1u);
  EXPECT_EQ(stats["held_keys"][0]["key"], omt::obs::key_fingerprint("secret-key-2"));
  EXPECT_EQ(stats["held_keys"][0]["reason"], "HTTP 401 Unauthorized: Ometria refused the API key");
  // A SQLite queue has one instance: it owns every key (a PostgreSQL queue lists its instances, test_postgres_binary).
  EXPECT_EQ(stats["delivery_instances"],
            nlohmann::json({{"shared", false},
                            {"note", "the queue is local to one instance (SQLite), which delivers every key"}}));
}

TEST_F(QueueCliTest, DeadLetterListReplayPurge) {
  auto listed = run("dead-letter list " + queue_arg());
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_EQ(listed.out.find("secret-key"), std::string::npos);
  auto list = nlohmann::json::parse(listed.out);
  ASSERT_EQ(list["count"], 2);
  EXPECT_EQ(list["dead_letters"][0]["id"], ids_[0]);
  EXPECT_EQ(list["dead_letters"][0]["reason"], "HTTP 400 Bad Request: Ometria refused the payload");
  EXPECT_EQ(list["dead_letters"][0]["type"], "contact");
  EXPECT_EQ(list["dead_letters"][0]["attempts"], 1);
  EXPECT_EQ(list["dead_letters"][0]["record"]["id"], "a");
  EXPECT_EQ(nlohmann::json::parse(run("dead-letter list --limit 1 " + queue_arg()).out)["count"], 1);

  auto replayed = run("dead-letter replay --id " + std::to_string(ids_[1]) + " " + queue_arg());
  ASSERT_EQ(replayed.exit_code, 0) << replayed.out;
  EXPECT_EQ(nlohmann::json::parse(replayed.out)["replayed"], 1);
  EXPECT_EQ(nlohmann::json::parse(run("queue stats " + queue_arg()).out)["depth"], 3);

  EXPECT_EQ(run("dead-letter purge " + queue_arg()).exit_code, 2);  // neither --id nor --all
  auto purged = run("dead-letter purge --all " + queue_arg());
  ASSERT_EQ(purged.exit_code, 0) << purged.out;
  EXPECT_EQ(nlohmann::json::parse(purged.out)["purged"], 1);
  EXPECT_EQ(nlohmann::json::parse(run("dead-letter list " + queue_arg()).out)["count"], 0);

  // The replayed record is back, with its id, for the delivering service.
  omt::queue::SqliteQueueOptions options;
  options.path = db_;
  auto q = SqliteQueue::open(options);
  ASSERT_TRUE(q);
  auto leased = (*q)->lease("secret-key-1", RecordType::contact, 10, std::chrono::seconds(30));
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 1u);
  EXPECT_EQ(leased->records[0].id, ids_[1]);
}

TEST_F(QueueCliTest, ClearErrors) {
  auto missing = run("queue stats --queue '" + (dir_ / "nowhere.db").string() + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nowhere.db"));  // an operator command never creates a queue
  EXPECT_EQ(run("dead-letter list --limit -3 " + queue_arg()).exit_code, 2);
  EXPECT_EQ(run("dead-letter " + queue_arg()).exit_code, 2);
  EXPECT_EQ(run("queue").exit_code, 2);
}

TEST_F(QueueCliTest, AnUnknownIdIsAnErrorAndNothingIsDone) {
  auto replayed = run("dead-letter replay --id " + std::to_string(ids_[0]) + " --id 999999 " + queue_arg(), true);
  EXPECT_EQ(replayed.exit_code, 1);
  EXPECT_NE(replayed.out.find("ometria-transformer dead-letter replay: no dead letter with id 999999"), std::string::npos)
      << replayed.out;
  EXPECT_EQ(nlohmann::json::parse(run("dead-letter list " + queue_arg()).out)["count"], 2);  // the known one stayed

  auto purged = run("dead-letter purge --id 999999 " + queue_arg(), true);
  EXPECT_EQ(purged.exit_code, 1);
  EXPECT_NE(purged.out.find("ometria-transformer dead-letter purge: no dead letter with id 999999"), std::string::npos)
      << purged.out;
  EXPECT_EQ(nlohmann::json::parse(run("dead-letter list " + queue_arg()).out)["count"], 2);
}

TEST_F(QueueCliTest, StatsNamesTheSourceWhoseCurrentKeyEachKeyIs) {
  auto r = run("queue stats " + config_arg(), false, kAppKeyEnv);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("secret-key"), std::string::npos) << r.out;
  auto stats = nlohmann::json::parse(r.out);
  ASSERT_EQ(stats["partitions"].size(), 2u);
  EXPECT_EQ(stats["partitions"][0]["source"], "app");
  EXPECT_EQ(stats["partitions"][1]["source"], "no source (an old key)");
  ASSERT_EQ(stats["held_keys"].size(), 1u);
  EXPECT_EQ(stats["held_keys"][0]["source"], "no source (an old key)");
  // Without the configuration the sources are unknown, not "old".
  stats = nlohmann::json::parse(run("queue stats " + queue_arg()).out);
  EXPECT_EQ(stats["partitions"][0]["source"], "unknown (pass --config to name the sources)");
  // With a source's secret missing, the queue is still shown, and why the sources are not.
  stats = nlohmann::json::parse(run("queue stats " + config_arg()).out);
  EXPECT_NE(stats["sources_error"].get<std::string>().find("OMT_QCLI_APP_KEY"), std::string::npos) << stats.dump();
  EXPECT_EQ(stats["depth"], 2);
}

TEST_F(QueueCliTest, RekeyMovesAnOldKeysRecordsToASourcesCurrentKeyAndDropsItsHold) {
  const std::string old_key = omt::obs::key_fingerprint("secret-key-2");
  auto r = run("queue rekey --from " + old_key + " --source web " + config_arg(), true, kAppKeyEnv);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("secret-key"), std::string::npos) << r.out;
  auto moved = nlohmann::json::parse(r.out);
  EXPECT_EQ(moved["from"], old_key);
  EXPECT_EQ(moved["to"], omt::obs::key_fingerprint("secret-key-new"));
  EXPECT_EQ(moved["source"], "web");
  EXPECT_EQ(moved["moved"], 1);

  auto stats = nlohmann::json::parse(run("queue stats " + config_arg(), false, kAppKeyEnv).out);
  EXPECT_EQ(stats["depth"], 2);
  EXPECT_TRUE(stats["held_keys"].empty());
  bool found = false;
  for (const auto& p : stats["partitions"]) {
    EXPECT_NE(p["key"], old_key);
    if (p["key"] == omt::obs::key_fingerprint("secret-key-new")) {
      found = true;
      EXPECT_EQ(p["source"], "web");
      EXPECT_EQ(p["type"], "custom_event");
    }
  }
  EXPECT_TRUE(found) << stats.dump();
}

TEST_F(QueueCliTest, RekeyRefusesWhatItCannotDoAndNamesIt) {
  const std::string held = omt::obs::key_fingerprint("secret-key-2");
  auto r = run("queue rekey --from key:00000000 --source web " + config_arg(), true, kAppKeyEnv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("ometria-transformer queue rekey: the queue holds no records and no hold under key:00000000"),
            std::string::npos) << r.out;
  r = run("queue rekey --from " + held + " --source nosuch " + config_arg(), true, kAppKeyEnv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no source named \"nosuch\" in the configuration (sources: web, app)"), std::string::npos) << r.out;
  r = run("queue rekey --from " + omt::obs::key_fingerprint("secret-key-1") + " --source app " + config_arg(), true,
          kAppKeyEnv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("is already the current key of source \"app\""), std::string::npos) << r.out;
  r = run("queue rekey --from " + held + " --source web " + config_arg(), true);  // the source's secret is missing
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("OMT_QCLI_APP_KEY"), std::string::npos) << r.out;
  EXPECT_EQ(run("queue rekey --source web " + config_arg(), false, kAppKeyEnv).exit_code, 2);  // no --from
  // Nothing moved, the hold is still there.
  auto stats = nlohmann::json::parse(run("queue stats " + queue_arg()).out);
  ASSERT_EQ(stats["held_keys"].size(), 1u);
  EXPECT_EQ(stats["held_keys"][0]["key"], held);
}

TEST_F(QueueCliTest, ReleaseGivesAKeysRecordsUpToTheDeadLettersOnlyWhenToldTo) {
  const std::string held = omt::obs::key_fingerprint("secret-key-2");
  EXPECT_EQ(run("queue release --key " + held + " " + queue_arg()).exit_code, 2);  // --to-dead-letter is required
  auto unknown = run("queue release --key key:00000000 --to-dead-letter " + queue_arg(), true);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.out.find("ometria-transformer queue release: the queue holds no records and no hold under key:00000000"),
            std::string::npos) << unknown.out;
  EXPECT_EQ(nlohmann::json::parse(run("queue stats " + queue_arg()).out)["depth"], 2);

  auto r = run("queue release --key " + held.substr(4) + " --to-dead-letter " + queue_arg());  // bare hex digits too
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto released = nlohmann::json::parse(r.out);
  EXPECT_EQ(released["key"], held);
  EXPECT_EQ(released["dead_lettered"], 1);
  auto stats = nlohmann::json::parse(run("queue stats " + queue_arg()).out);
  EXPECT_EQ(stats["depth"], 1);
  EXPECT_EQ(stats["dead_letters"], 3);
  EXPECT_TRUE(stats["held_keys"].empty());
  auto list = nlohmann::json::parse(run("dead-letter list " + queue_arg()).out);
  ASSERT_EQ(list["count"], 3);
  EXPECT_EQ(list["dead_letters"][2]["key"], held);
  EXPECT_EQ(list["dead_letters"][2]["reason"],
            "given up by the operator (queue release --key " + held + " --to-dead-letter)");
}

TEST_F(QueueCliTest, TheNewCommandsHelpShowsTheirOptionsAndExitStatus) {
  for (const char* command : {"queue rekey --help", "queue release --help"}) {
    auto r = run(command);
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("running service"), std::string::npos) << r.out;
  }
}

}  // namespace
