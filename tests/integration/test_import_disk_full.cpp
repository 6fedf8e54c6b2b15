// An import whose queue file cannot grow (the real binary under RLIMIT_FSIZE with SIGXFSZ ignored, so the
// kernel refuses its writes past the size as a full disk does): it stops with a message naming the queue file and
// the cause, exits 1, leaves the queue consistent (SQLite's integrity check, records and checkpoints agreeing), and
// run again without the limit it continues: every record queued exactly once, none skipped. The plan's spill
// (beside the queue) meets the same limit: it is given up with a notice, never failing the import by itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "cli_run.hpp"
#include "fake_ometria.hpp"
#include "import_harness.hpp"

namespace {

namespace fs = std::filesystem;

constexpr const char* kKey = "disk-full-key";
constexpr std::size_t kContacts = 60'000;
// A few thousand contacts fit; 60,000 do not.
constexpr rlim_t kQueueFileLimit = 2 * 1024 * 1024;

class ImportDiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("queue.db");
    config_ = dir_.file("config.json");
    omt::test::write_import_config(config_, db_, kKey, "full");
    files_ = omt::test::write_identifies(dir_.path(), kContacts, 2);
  }
  std::vector<std::string> import_args() const {
    std::vector<std::string> args = {"import"};
    for (const auto& f : files_) args.push_back(f.string());
    args.insert(args.end(), {"--source", "shop", "--config", config_.string(), "--quiet"});
    return args;
  }

  omt::testing::TempDir dir_;
  fs::path db_, config_;
  std::vector<fs::path> files_;
};

TEST_F(ImportDiskFull, StopsNamingTheQueueFileAndTheCauseAndARerunContinuesExactly) {
  const auto full = omt::test::run_with_file_size_limit(import_args(), kQueueFileLimit);
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_NE(full.output.find("Starting import run 1"), std::string::npos) << full.output;
  // The operator reads which file could not be written and why, and what to do.
  EXPECT_NE(full.output.find("cannot write " + db_.string()), std::string::npos) << full.output;
  EXPECT_NE(full.output.find("size limit"), std::string::npos) << full.output;
  EXPECT_NE(full.output.find("run again to continue"), std::string::npos) << full.output;
  EXPECT_EQ(full.output.find("Imported:"), std::string::npos) << full.output;
  EXPECT_LE(fs::file_size(db_), kQueueFileLimit);
  // The plan's spill could not be written either: given up with one line, the passes transforming again.
  EXPECT_NE(full.output.find("the plan's records are not kept for the passes ("), std::string::npos) << full.output;

  // The queue is intact: SQLite finds nothing wrong, and what the checkpoints count is what is queued.
  EXPECT_EQ(omt::test::query_queue_file(db_, "PRAGMA integrity_check"), "ok");
  const auto committed = omt::test::committed_records(db_);
  EXPECT_GT(committed, 0) << "nothing was committed before the limit: the test proves less than it says";
  EXPECT_LT(committed, static_cast<std::int64_t>(kContacts));
  EXPECT_EQ(omt::test::queued_contact_ids(db_, kKey).size(), static_cast<std::size_t>(committed));

  // Room again: the same command continues where it stopped.
  std::string args;
  for (const auto& a : import_args()) args += "'" + a + "' ";
  const auto rerun = omt::test::run(args, true);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out;
  EXPECT_NE(rerun.out.find("Resuming import run 1"), std::string::npos) << rerun.out;
  EXPECT_NE(rerun.out.find("Imported: 60,000 of 60,000 records"), std::string::npos) << rerun.out;
  const auto ids = omt::test::queued_contact_ids(db_, kKey);
  ASSERT_EQ(ids.size(), kContacts);
  std::set<std::string> seen;
  for (const auto& id : ids) EXPECT_TRUE(seen.insert(id).second) << "enqueued twice: " << id;
  for (std::size_t i = 0; i < kContacts; ++i) ASSERT_TRUE(seen.count("L" + std::to_string(i))) << "skipped: L" << i;
}

// A dry run reads everything and writes nothing, no spill either: under the same limit it has nothing to give up
// (the import above, writing one, says so).
TEST_F(ImportDiskFull, ADryRunWritesNoSpill) {
  auto args = import_args();
  args.push_back("--dry-run");
  const auto dry = omt::test::run_with_file_size_limit(args, kQueueFileLimit);
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("Dry run: the import would"), std::string::npos) << dry.output;
  EXPECT_EQ(dry.output.find("not kept for the passes"), std::string::npos) << dry.output;
  EXPECT_FALSE(fs::exists(db_));
}

}  // namespace
