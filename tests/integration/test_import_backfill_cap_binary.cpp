// import.max_queued with the real binaries: `serve` delivering to the fake-ometria program (its --rate-limit
// answering 429 past it) while `import` fills the same SQLite queue file (WAL: two processes, one writer at a
// time). With a cap of 500 an import of 5,000 contacts waits ("waiting: backfill lane full"), never holds more
// than the cap in the lane, does not fail, finishes as serve makes room, and every contact reaches the fake once.
// Its stderr is not a terminal: the progress comes as plain lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "delivery_harness.hpp"
#include "fake_ometria_program.hpp"
#include "http_client.hpp"
#include "import_harness.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kKey = "cap-binary-key";
constexpr std::size_t kContacts = 5'000;
constexpr std::uint64_t kCap = 500;

// The records waiting in the backfill lane (lane 1), read from the file beside both processes.
std::uint64_t backfill_depth(const std::filesystem::path& db) {
  if (!std::filesystem::exists(db)) return 0;
  const std::string n = query_queue_file(db, "SELECT COALESCE(SUM(count), 0) FROM chunks WHERE lane = 1");
  return n.empty() || n.find_first_not_of("0123456789") != std::string::npos ? 0 : std::stoull(n);
}

TEST(ImportBackfillCapBinary, AnImportWaitsAtTheCapWhileServeDeliversAndEveryRecordArrivesOnce) {
  testing::TempDir dir;
  const std::filesystem::path db = dir.file("queue.db");
  const std::string out = dir.file("ometria.jsonl");
  RunningFakeProgram fake(kKey, out, {"--rate-limit", "12"});
  const json config = {
      {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "2s"}}},
      {"queue", {{"path", db.string()}, {"durability", "normal"}}},
      {"ometria", {{"endpoint", "http://127.0.0.1:" + std::to_string(fake.port) + "/v2/push"}, {"allow_plain_http", true}}},
      // 10 pushes a second, 100 records each: 5,000 records take five seconds or more.
      {"delivery", {{"requests_per_second", 10}, {"burst", 1}, {"linger", "20ms"}}},
      {"import", {{"max_queued", kCap}}},
      {"sources", json::array({{{"name", "shop"}, {"write_key", "wk-shop"}, {"api_key", kKey}}})},
  };
  const std::string config_path = dir.file("config.json");
  std::ofstream(config_path) << config.dump(2);
  const auto files = write_identifies(dir.path(), kContacts, 1);

  RunningBinary serve({"--config", config_path});
  ChildProcess import(OMT_BINARY, {"import", files[0].string(), "--source", "shop", "--config", config_path});
  // While it runs, the lane never holds more than the cap (a batch is the cap at most, and waits for room).
  std::uint64_t deepest = 0;
  std::optional<int> exit_status;
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (!(exit_status = import.wait_exit(0ms)) && std::chrono::steady_clock::now() < deadline) {
    deepest = std::max(deepest, backfill_depth(db));
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(exit_status) << "the import did not finish: " << import.output();
  EXPECT_EQ(*exit_status, 0) << import.output();
  // Not a terminal: plain lines, the first wait shown at once (not only at the next five-second line).
  const std::string said = import.output();
  EXPECT_EQ(said.find('\r'), std::string::npos) << said;
  EXPECT_EQ(said.find("\033["), std::string::npos) << said;
  bool waiting_line = false;
  std::istringstream lines(said);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("contact pass: read ", 0) == 0 && line.ends_with("; waiting: backfill lane full (import.max_queued)"))
      waiting_line = true;
  EXPECT_TRUE(waiting_line) << said;
  EXPECT_LE(deepest, kCap);
  EXPECT_GT(deepest, 0u);

  // Serve delivers the rest; each contact arrives exactly once.
  ASSERT_TRUE(eventually([&] { return fake.stats()["records"].get<std::size_t>() >= kContacts; }, 60s)) << fake.stats().dump();
  std::this_thread::sleep_for(300ms);  // a duplicate, were there one, would come right behind
  std::map<std::string, int> arrivals;
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    const auto record = json::parse(line)["record"];
    ++arrivals[record["id"].get<std::string>()];
  }
  EXPECT_EQ(arrivals.size(), kContacts);
  for (std::size_t i = 0; i < kContacts; ++i) {
    const auto it = arrivals.find("L" + std::to_string(i));
    ASSERT_NE(it, arrivals.end()) << "never arrived: L" << i;
    EXPECT_EQ(it->second, 1) << "arrived " << it->second << " times: L" << i;
  }
  // Two processes on one file: neither met a lock it could not wait out.
  EXPECT_EQ(serve.child.output().find("database is locked"), std::string::npos) << serve.child.output();
  EXPECT_EQ(import.output().find("database is locked"), std::string::npos) << import.output();
  EXPECT_EQ(backfill_depth(db), 0u);
}

}  // namespace
}  // namespace omt::test
