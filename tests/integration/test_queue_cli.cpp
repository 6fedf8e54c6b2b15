// The operator subcommands (queue stats, dead-letter list|replay|purge, list --events and --ometria-errors,
// queue rekey and release) run as the real binary on a real queue: each case on SQLite and on PostgreSQL (a real
// server the tests start, support/postgres_server.hpp), which the commands reach through --config.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "omt/delivery/ometria_errors.hpp"
#include "omt/obs/log.hpp"
#include "omt/queue/ometria_errors.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "postgres_server.hpp"

namespace {

using omt::queue::NewRecord;
using omt::queue::Queue;
using omt::queue::RecordType;
using omt::test::RunResult;

enum class Backend { sqlite, postgres };

class QueueCliTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ / "queue.db";
    if (postgres()) url_ = omt::test::PostgresServer::shared().create_database();
    auto q = open_queue();
    ASSERT_TRUE(q);
    auto ids = q->enqueue({NewRecord{"secret-key-1", RecordType::contact, R"({"@type":"contact","id":"a"})"},
                           NewRecord{"secret-key-1", RecordType::contact, R"({"@type":"contact","id":"b"})"},
                           NewRecord{"secret-key-1", RecordType::order, R"({"@type":"order","id":"o"})"},
                           NewRecord{"secret-key-2", RecordType::custom_event, R"({"@type":"custom_event","id":"e"})"}})
                   .get();
    ASSERT_TRUE(ids);
    ids_ = *ids;
    ASSERT_EQ(*q->dead_letter({ids_[0], ids_[1]}, "HTTP 400 Bad Request: Ometria refused the payload"), 2u);
    ASSERT_TRUE(q->hold_key("secret-key-2", "HTTP 401 Unauthorized: Ometria refused the API key"));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool postgres() const { return GetParam() == Backend::postgres; }

  // The test's queue, opened from this process as the service would (the same data each time).
  std::unique_ptr<Queue> open_queue() {
    if (postgres()) {
      omt::queue::PostgresQueueOptions options;
      options.url = url_;
      auto q = omt::queue::PostgresQueue::open(std::move(options));
      if (!q) ADD_FAILURE() << q.error().message;
      return q ? std::move(*q) : nullptr;
    }
    omt::queue::SqliteQueueOptions options;
    options.path = db_;
    auto q = omt::queue::SqliteQueue::open(options);
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  // The configuration's queue section: a SQLite file, or the PostgreSQL URL from the environment (cli() sets it).
  nlohmann::json queue_config() const {
    if (postgres()) return {{"backend", "postgres"}, {"url", {{"env", "OMT_QCLI_QUEUE_URL"}}}};
    return {{"path", db_.string()}};
  }
  // How a command finds the queue without sources: --queue for a SQLite file, a configuration for PostgreSQL.
  std::string queue_arg() const {
    if (!postgres()) return "--queue '" + db_.string() + "'";
    const auto file = dir_ / "queue-only.json";
    std::ofstream(file) << nlohmann::json{{"queue", queue_config()}};
    return "--config '" + file.string() + "'";
  }
  // A configuration whose source "web" has a new key and "app" has secret-key-1 (from the environment, as serve
  // reads it): secret-key-2 is a key no source has any more.
  std::string config_arg() const {
    const auto file = dir_ / "config.json";
    std::ofstream(file) << nlohmann::json{
        {"queue", queue_config()},
        {"sources", nlohmann::json::array({{{"name", "web"}, {"write_key", "wk-web"}, {"api_key", "secret-key-new"}},
                                           {{"name", "app"}, {"write_key", "wk-app"}, {"api_key", {{"env", "OMT_QCLI_APP_KEY"}}}}})}};
    return "--config '" + file.string() + "'";
  }
  static constexpr const char* kAppKeyEnv = "OMT_QCLI_APP_KEY=secret-key-1";
  // The URL as an operator would give it, with a password the test server does not need (trust) and that no
  // command may print.
  static constexpr const char* kPassword = "pg-cli-secret-word";
  std::string url_with_password() const {
    const std::string scheme = "postgresql://omt@";
    return "postgresql://omt:" + std::string(kPassword) + "@" + url_.substr(scheme.size());
  }
  // The binary run with `args` (omt::test::run), the queue's URL in its environment on PostgreSQL.
  RunResult cli(const std::string& args, bool stderr_too = false, const std::string& env = "") const {
    std::string full_env = env;
    if (postgres()) full_env += (full_env.empty() ? "" : " ") + std::string("OMT_QCLI_QUEUE_URL='") + url_with_password() + "'";
    auto r = omt::test::run(args, stderr_too, full_env);
    EXPECT_EQ(r.out.find(kPassword), std::string::npos) << "the database's password was printed: " << r.out;
    return r;
  }
  nlohmann::json cli_json(const std::string& args, const std::string& env = "") const {
    auto r = cli(args, false, env);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.out;
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }

  std::filesystem::path dir_, db_;
  std::string url_;
  std::vector<omt::queue::RecordId> ids_;
};

INSTANTIATE_TEST_SUITE_P(Backends, QueueCliTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& tested) { return tested.param == Backend::sqlite ? "sqlite" : "postgres"; });

TEST_P(QueueCliTest, StatsShowsDepthPerKeyAndTypeWithKeysFingerprinted) {
  auto r = cli("queue stats " + queue_arg());
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
  if (!postgres()) {
    // A SQLite queue has one instance: it owns every key.
    EXPECT_EQ(stats["delivery_instances"],
              nlohmann::json({{"shared", false},
                              {"note", "the queue is local to one instance (SQLite), which delivers every key"}}));
  } else {
    // No service has run on this database: no instance, both keys waiting for one (which instance owns which key
    // once several run: test_postgres_binary).
    const auto& shown = stats["delivery_instances"];
    EXPECT_EQ(shown["shared"], true) << shown.dump();
    EXPECT_EQ(shown["live_instances"], 0) << shown.dump();
    EXPECT_EQ(shown["unclaimed_keys"], nlohmann::json::array({omt::obs::key_fingerprint("secret-key-1"),
                                                              omt::obs::key_fingerprint("secret-key-2")}))
        << shown.dump();
  }
}

TEST_P(QueueCliTest, DeadLetterListReplayPurge) {
  auto listed = cli("dead-letter list " + queue_arg());
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_EQ(listed.out.find("secret-key"), std::string::npos);
  auto list = nlohmann::json::parse(listed.out);
  ASSERT_EQ(list["count"], 2);
  EXPECT_EQ(list["dead_letters"][0]["id"], ids_[0]);
  EXPECT_EQ(list["dead_letters"][0]["reason"], "HTTP 400 Bad Request: Ometria refused the payload");
  EXPECT_EQ(list["dead_letters"][0]["type"], "contact");
  EXPECT_EQ(list["dead_letters"][0]["attempts"], 1);
  EXPECT_EQ(list["dead_letters"][0]["record"]["id"], "a");
  EXPECT_EQ(nlohmann::json::parse(cli("dead-letter list --limit 1 " + queue_arg()).out)["count"], 1);

  auto replayed = cli("dead-letter replay --id " + std::to_string(ids_[1]) + " " + queue_arg());
  ASSERT_EQ(replayed.exit_code, 0) << replayed.out;
  EXPECT_EQ(nlohmann::json::parse(replayed.out)["replayed"], 1);
  EXPECT_EQ(nlohmann::json::parse(cli("queue stats " + queue_arg()).out)["depth"], 3);

  EXPECT_EQ(cli("dead-letter purge " + queue_arg()).exit_code, 2);  // neither --id nor --all
  auto purged = cli("dead-letter purge --all " + queue_arg());
  ASSERT_EQ(purged.exit_code, 0) << purged.out;
  EXPECT_EQ(nlohmann::json::parse(purged.out)["purged"], 1);
  EXPECT_EQ(nlohmann::json::parse(cli("dead-letter list " + queue_arg()).out)["count"], 0);

  // The replayed record is back, with its id, for the delivering service.
  auto q = open_queue();
  ASSERT_TRUE(q);
  auto leased = q->lease("secret-key-1", RecordType::contact, 10, std::chrono::seconds(30));
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 1u);
  EXPECT_EQ(leased->records[0].id, ids_[1]);
}

TEST_P(QueueCliTest, ClearErrors) {
  if (!postgres()) {
    auto missing = cli("queue stats --queue '" + (dir_ / "nowhere.db").string() + "'");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_FALSE(std::filesystem::exists(dir_ / "nowhere.db"));  // an operator command never creates a queue
  } else {
    // A database that does not exist: the command says it cannot connect, and where, without the password.
    auto missing = omt::test::run("queue stats " + queue_arg(), true,
                                  "OMT_QCLI_QUEUE_URL='" + url_with_password() + "-nowhere'");
    EXPECT_EQ(missing.exit_code, 1) << missing.out;
    EXPECT_NE(missing.out.find("cannot connect to"), std::string::npos) << missing.out;
    EXPECT_EQ(missing.out.find(kPassword), std::string::npos) << missing.out;
    // A URL that is not one is a configuration error.
    auto bad = omt::test::run("queue stats " + queue_arg(), true, "OMT_QCLI_QUEUE_URL='host=127.0.0.1 port'");
    EXPECT_NE(bad.exit_code, 0) << bad.out;
    EXPECT_NE(bad.out.find("queue.url is not a libpq connection string or URI"), std::string::npos) << bad.out;
  }
  EXPECT_EQ(cli("dead-letter list --limit -3 " + queue_arg()).exit_code, 2);
  EXPECT_EQ(cli("dead-letter " + queue_arg()).exit_code, 2);
  EXPECT_EQ(cli("queue").exit_code, 2);
}

TEST_P(QueueCliTest, AnUnknownIdIsAnErrorAndNothingIsDone) {
  auto replayed = cli("dead-letter replay --id " + std::to_string(ids_[0]) + " --id 999999 " + queue_arg(), true);
  EXPECT_EQ(replayed.exit_code, 1);
  EXPECT_NE(replayed.out.find("ometria-transformer dead-letter replay: no dead letter with id 999999"), std::string::npos)
      << replayed.out;
  EXPECT_EQ(nlohmann::json::parse(cli("dead-letter list " + queue_arg()).out)["count"], 2);  // the known one stayed

  auto purged = cli("dead-letter purge --id 999999 " + queue_arg(), true);
  EXPECT_EQ(purged.exit_code, 1);
  EXPECT_NE(purged.out.find("ometria-transformer dead-letter purge: no dead letter with id 999999"), std::string::npos)
      << purged.out;
  EXPECT_EQ(nlohmann::json::parse(cli("dead-letter list " + queue_arg()).out)["count"], 2);
}

TEST_P(QueueCliTest, StatsNamesTheSourceWhoseCurrentKeyEachKeyIs) {
  auto r = cli("queue stats " + config_arg(), false, kAppKeyEnv);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("secret-key"), std::string::npos) << r.out;
  auto stats = nlohmann::json::parse(r.out);
  ASSERT_EQ(stats["partitions"].size(), 2u);
  EXPECT_EQ(stats["partitions"][0]["source"], "app");
  EXPECT_EQ(stats["partitions"][1]["source"], "no source (an old key)");
  ASSERT_EQ(stats["held_keys"].size(), 1u);
  EXPECT_EQ(stats["held_keys"][0]["source"], "no source (an old key)");
  // Without the configuration (a SQLite file named by --queue) the sources are unknown, not "old"; a PostgreSQL
  // queue is always reached through a configuration, and one without sources has no current keys.
  stats = nlohmann::json::parse(cli("queue stats " + queue_arg()).out);
  EXPECT_EQ(stats["partitions"][0]["source"],
            postgres() ? "no source (an old key)" : "unknown (pass --config to name the sources)");
  // With a source's secret missing, the queue is still shown, and why the sources are not.
  stats = nlohmann::json::parse(cli("queue stats " + config_arg()).out);
  EXPECT_NE(stats["sources_error"].get<std::string>().find("OMT_QCLI_APP_KEY"), std::string::npos) << stats.dump();
  EXPECT_EQ(stats["depth"], 2);
}

TEST_P(QueueCliTest, RekeyMovesAnOldKeysRecordsToASourcesCurrentKeyAndDropsItsHold) {
  const std::string old_key = omt::obs::key_fingerprint("secret-key-2");
  auto r = cli("queue rekey --from " + old_key + " --source web " + config_arg(), true, kAppKeyEnv);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("secret-key"), std::string::npos) << r.out;
  auto moved = nlohmann::json::parse(r.out);
  EXPECT_EQ(moved["from"], old_key);
  EXPECT_EQ(moved["to"], omt::obs::key_fingerprint("secret-key-new"));
  EXPECT_EQ(moved["source"], "web");
  EXPECT_EQ(moved["moved"], 1);

  auto stats = nlohmann::json::parse(cli("queue stats " + config_arg(), false, kAppKeyEnv).out);
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

TEST_P(QueueCliTest, RekeyRefusesWhatItCannotDoAndNamesIt) {
  const std::string held = omt::obs::key_fingerprint("secret-key-2");
  auto r = cli("queue rekey --from key:00000000 --source web " + config_arg(), true, kAppKeyEnv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("ometria-transformer queue rekey: the queue holds no records and no hold under key:00000000"),
            std::string::npos) << r.out;
  r = cli("queue rekey --from " + held + " --source nosuch " + config_arg(), true, kAppKeyEnv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no source named \"nosuch\" in the configuration (sources: web, app)"), std::string::npos) << r.out;
  r = cli("queue rekey --from " + omt::obs::key_fingerprint("secret-key-1") + " --source app " + config_arg(), true,
          kAppKeyEnv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("is already the current key of source \"app\""), std::string::npos) << r.out;
  r = cli("queue rekey --from " + held + " --source web " + config_arg(), true);  // the source's secret is missing
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("OMT_QCLI_APP_KEY"), std::string::npos) << r.out;
  EXPECT_EQ(cli("queue rekey --source web " + config_arg(), false, kAppKeyEnv).exit_code, 2);  // no --from
  // Nothing moved, the hold is still there.
  auto stats = nlohmann::json::parse(cli("queue stats " + queue_arg()).out);
  ASSERT_EQ(stats["held_keys"].size(), 1u);
  EXPECT_EQ(stats["held_keys"][0]["key"], held);
}

TEST_P(QueueCliTest, ReleaseGivesAKeysRecordsUpToTheDeadLettersOnlyWhenToldTo) {
  const std::string held = omt::obs::key_fingerprint("secret-key-2");
  EXPECT_EQ(cli("queue release --key " + held + " " + queue_arg()).exit_code, 2);  // --to-dead-letter is required
  auto unknown = cli("queue release --key key:00000000 --to-dead-letter " + queue_arg(), true);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.out.find("ometria-transformer queue release: the queue holds no records and no hold under key:00000000"),
            std::string::npos) << unknown.out;
  EXPECT_EQ(nlohmann::json::parse(cli("queue stats " + queue_arg()).out)["depth"], 2);

  auto r = cli("queue release --key " + held.substr(4) + " --to-dead-letter " + queue_arg());  // bare hex digits too
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto released = nlohmann::json::parse(r.out);
  EXPECT_EQ(released["key"], held);
  EXPECT_EQ(released["dead_lettered"], 1);
  auto stats = nlohmann::json::parse(cli("queue stats " + queue_arg()).out);
  EXPECT_EQ(stats["depth"], 1);
  EXPECT_EQ(stats["dead_letters"], 3);
  EXPECT_TRUE(stats["held_keys"].empty());
  auto list = nlohmann::json::parse(cli("dead-letter list " + queue_arg()).out);
  ASSERT_EQ(list["count"], 3);
  EXPECT_EQ(list["dead_letters"][2]["key"], held);
  EXPECT_EQ(list["dead_letters"][2]["reason"],
            "given up by the operator (queue release --key " + held + " --to-dead-letter)");
}

TEST_P(QueueCliTest, DeadLetterListEventsShowsTheRejectedEventsAndSelectsBySourceAndTime) {
  {
    auto q = open_queue();
    ASSERT_TRUE(q);
    auto stored = q->store(omt::queue::IngestWrite{
                               {},
                               {{"web", "/v1/batch", "Missing required value: userId", R"({"type":"identify","anonymousId":"x"})"},
                                {"app", "/v1/track", "Unknown event type", "not json at all"}}})
                      .get();
    ASSERT_TRUE(stored) << stored.error().message;
  }
  const auto all = cli_json("dead-letter list --events " + queue_arg());
  ASSERT_EQ(all["count"], 2) << all.dump();
  const auto& first = all["rejected_events"][0];
  EXPECT_EQ(first["source"], "web");
  EXPECT_EQ(first["route"], "/v1/batch");
  EXPECT_EQ(first["reason"], "Missing required value: userId");
  EXPECT_EQ(first["event"]["anonymousId"], "x");  // the event itself, as JSON
  EXPECT_EQ(all["rejected_events"][1]["event"], "not json at all");  // kept as its text
  EXPECT_LT(first["id"].get<std::int64_t>(), all["rejected_events"][1]["id"].get<std::int64_t>());

  const auto app = cli_json("dead-letter list --events --source app " + queue_arg());
  ASSERT_EQ(app["count"], 1) << app.dump();
  EXPECT_EQ(app["rejected_events"][0]["reason"], "Unknown event type");
  EXPECT_EQ(cli_json("dead-letter list --events --since 2099-01-01 " + queue_arg())["count"], 0);
  EXPECT_EQ(cli_json("dead-letter list --events --since 1h " + queue_arg())["count"], 2);
  EXPECT_EQ(cli("dead-letter list --events --since yesterday " + queue_arg()).exit_code, 2);
  // The records' dead letters are apart from the events.
  EXPECT_EQ(cli_json("dead-letter list " + queue_arg())["count"], 2);
}

TEST_P(QueueCliTest, DeadLetterListOmetriaErrorsShowsWhatOmetriaRejectedAfterAcceptingAPush) {
  {
    auto q = open_queue();
    ASSERT_TRUE(q);
    omt::queue::OmetriaErrorLog* log = q->ometria_error_log();
    ASSERT_NE(log, nullptr);
    const omt::ometria::OmetriaError unmatched{"Missing id", "root", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    const omt::ometria::OmetriaError with_ids{"Invalid email", "root > email", "c-1", "r-1", "contact",
                                              "2026-12-05T10:00:00Z"};
    auto seen = omt::delivery::distinct_errors({unmatched, with_ids, with_ids});
    for (auto& e : seen) {
      if (e.error == with_ids) e.match = omt::delivery::ErrorMatch{{"c-1"}, "r-1", "contact", 1'764'928'800'000};
    }
    ASSERT_TRUE(log->record_ometria_errors("secret-key-1", seen, 1'764'928'900'000));
  }
  const auto listed = cli_json("dead-letter list --ometria-errors " + queue_arg());
  ASSERT_EQ(listed["count"], 2) << listed.dump();
  EXPECT_EQ(listed.dump().find("secret-key"), std::string::npos) << "an API key was printed";
  const nlohmann::json* matched = nullptr;
  for (const auto& e : listed["ometria_errors"]) {
    EXPECT_EQ(e["key"], omt::obs::key_fingerprint("secret-key-1"));
    if (e["error_message"] == "Invalid email") matched = &e;
  }
  ASSERT_NE(matched, nullptr) << listed.dump();
  EXPECT_EQ((*matched)["error_path"], "root > email");
  EXPECT_EQ((*matched)["record_id"], "c-1");
  EXPECT_EQ((*matched)["occurrences"], 2);
  EXPECT_EQ((*matched)["first_seen_at"], "2025-12-05T10:01:40.000Z");
  EXPECT_EQ((*matched)["matched"]["record_ids"], nlohmann::json::array({"c-1"}));
  EXPECT_EQ((*matched)["matched"]["request_id"], "r-1");
  EXPECT_EQ((*matched)["matched"]["pushed_at"], "2025-12-05T10:00:00.000Z");
  EXPECT_EQ(cli_json("dead-letter list --ometria-errors --limit 1 " + queue_arg())["count"], 1);
  EXPECT_EQ(cli("dead-letter list --ometria-errors --id 1 " + queue_arg()).exit_code, 2);
}

TEST(QueueCliHelp, TheNewCommandsHelpShowsTheirOptionsAndExitStatus) {
  for (const char* command : {"queue rekey --help", "queue release --help"}) {
    auto r = omt::test::run(command);
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("running service"), std::string::npos) << r.out;
  }
}

}  // namespace
