// Two `import` processes of the same run on one PostgreSQL queue (the real binary, the server the tests start):
// while the first holds the run lock (PostgresRunLock, a session advisory lock; it waits at import.max_queued,
// nothing delivering), the second is refused with a message that says why, before it reads or writes anything
// (the first one's spill is untouched); once the first has stopped, the same command resumes the run and
// finishes it, every record queued once.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "fake_ometria.hpp"
#include "import_harness.hpp"
#include "omt/import/import_run.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"

namespace omt::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kKey = "run-lock-key";
constexpr std::size_t kContacts = 3'000;

TEST(ImportRunLockPostgres, ASecondImportOfTheSameRunIsRefusedWhileTheFirstHoldsItsLockAndGoesAheadAfter) {
  testing::TempDir dir;
  const std::string url = PostgresServer::shared().create_database();
  const std::string config = dir.file("config.json");
  const auto write_config = [&](std::uint64_t max_queued) {
    const json cfg = {{"queue", {{"backend", "postgres"}, {"url", {{"env", "OMT_TEST_PG_QUEUE_URL"}}}}},
                      {"import", {{"max_queued", max_queued}}},
                      {"sources", json::array({{{"name", "shop"}, {"write_key", "wk-shop"}, {"api_key", kKey}}})}};
    std::ofstream(config) << cfg.dump(2);
  };
  write_config(100);  // the first import fills the lane to 100 and waits there: nothing delivers
  const auto files = write_identifies(dir.path(), kContacts, 1);
  const std::string env = "OMT_TEST_PG_QUEUE_URL='" + url + "'";
  const std::string args = "import '" + files[0].string() + "' --source shop --config '" + config + "'";

  ChildProcess first(OMT_BINARY, {"import", files[0].string(), "--source", "shop", "--config", config},
                     {"OMT_TEST_PG_QUEUE_URL=" + url});
  ASSERT_TRUE(first.wait_for_line("waiting: backfill lane full", 60s)) << first.output();
  // Its spill, in the temporary folder (the queue is on another host as far as the import knows).
  const fs::path spill = fs::temp_directory_path() / ("ometria-transformer.import-spill-" +
                                                      import::run_key_of("shop", {files[0].string()}, std::nullopt, false).substr(0, 16));
  ASSERT_TRUE(fs::is_directory(spill)) << spill;
  const auto spill_files = std::distance(fs::directory_iterator(spill), fs::directory_iterator());

  const auto refused = run(args + " --quiet", true, env);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find("ometria-transformer import: this import is already running in another process (same inputs and source)"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(refused.out.find("read:"), std::string::npos) << "it planned: " << refused.out;
  EXPECT_TRUE(fs::is_directory(spill)) << "the refused import removed the running one's spill";
  EXPECT_EQ(std::distance(fs::directory_iterator(spill), fs::directory_iterator()), spill_files);
  EXPECT_FALSE(first.wait_exit(0ms)) << "the first import stopped: " << first.output();

  // The first one stops (Ctrl-C's signal: it commits what is pending); its lock and its spill go with it.
  first.signal(SIGTERM);
  const auto status = first.wait_exit(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 1) << first.output();
  EXPECT_NE(first.output().find("interrupted; run again to continue"), std::string::npos) << first.output();
  EXPECT_FALSE(fs::exists(spill));

  write_config(kContacts + 1);  // room for all of them now (the same run: the configuration is not its key)
  const auto resumed = run(args + " --quiet", true, env);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("Resuming import run 1"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("Imported: 3,000 of 3,000 records queued in the backfill lane"), std::string::npos) << resumed.out;
  EXPECT_FALSE(fs::exists(spill));

  queue::PostgresQueueOptions options;
  options.url = url;
  options.lease_owner = "the-test";
  auto q = queue::PostgresQueue::open(std::move(options));
  ASSERT_TRUE(q) << q.error().message;
  auto leased = (*q)->lease(kKey, ometria::RecordType::contact, queue::Lane::backfill, 10'000, 1min);
  ASSERT_TRUE(leased) << leased.error().message;
  std::set<std::string> ids;
  for (const auto& r : leased->records)
    EXPECT_TRUE(ids.insert(json::parse(r.json)["id"].get<std::string>()).second) << "enqueued twice: " << r.json;
  EXPECT_EQ(ids.size(), kContacts);
}

}  // namespace
}  // namespace omt::test
