// `ometria-transformer import` and `import status` as the real binary on a real queue: the plan, hazards refused
// then accepted, bad rows and --max-bad-records, gzip (and a truncated one), the order of the passes, a finished
// import run again, --again, a changed file, --json, Ctrl-C, and a SIGKILL in the middle of a large import
// followed by a rerun that enqueues every record exactly once (never trusting the spill the killed one left).
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "compress.hpp"
#include "import_harness.hpp"
#include "omt/queue/sqlite_queue.hpp"

namespace {

namespace fs = std::filesystem;
using omt::queue::RecordType;
using omt::test::run;

constexpr const char* kKey = "import-key-1";

std::string cases(const std::string& name) { return std::string(OMT_SOURCE_DIR) + "/tests/cases/import/" + name; }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ImportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "omt-import-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ / "queue.db";
    config_ = dir_ / "config.json";
    write_config(nlohmann::json::object());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write_config(const nlohmann::json& extra) {
    nlohmann::json cfg = {{"queue", {{"path", db_.string()}, {"durability", "normal"}}},
                          {"sources", nlohmann::json::array({{{"name", "shop"},
                                                              {"write_key", "wk-shop"},
                                                              {"api_key", kKey},
                                                              {"marketing_optin", "EXPLICITLY_OPTEDOUT"}}})}};
    cfg.merge_patch(extra);
    std::ofstream(config_) << cfg.dump(2);
  }
  std::string import_args(const std::string& inputs, const std::string& more = "") const {
    return "import " + inputs + " --source shop --config '" + config_.string() + "' " + more;
  }
  // Every waiting record of the key, by type, oldest first (as the queue hands them out).
  std::map<RecordType, std::vector<std::string>> queued() const {
    std::map<RecordType, std::vector<std::string>> out;
    if (!fs::exists(db_)) return out;
    omt::queue::SqliteQueueOptions options;
    options.path = db_;
    auto q = omt::queue::SqliteQueue::open(options);
    EXPECT_TRUE(q) << q.error().message;
    if (!q) return out;
    for (auto type : {RecordType::product, RecordType::contact, RecordType::order, RecordType::custom_event}) {
      auto leased = (*q)->lease(kKey, type, omt::queue::Lane::backfill, 10'000'000, std::chrono::minutes(1));
      EXPECT_TRUE(leased);
      if (!leased) continue;
      for (auto& r : leased->records) out[type].push_back(std::move(r.json));
    }
    return out;
  }
  // The types of all queued records in the order they were enqueued (record ids grow with each enqueue).
  std::vector<std::string> types_in_queue_order() const {
    std::vector<std::string> types;
    for (const auto& [id, type] : queued_ids_and_types()) types.push_back(type);
    return types;
  }
  std::vector<std::pair<std::int64_t, std::string>> queued_ids_and_types() const {
    std::vector<std::pair<std::int64_t, std::string>> out;
    omt::queue::SqliteQueueOptions options;
    options.path = db_;
    auto q = omt::queue::SqliteQueue::open(options);
    if (!q) return out;
    for (auto type : {RecordType::product, RecordType::contact, RecordType::order, RecordType::custom_event}) {
      auto leased = (*q)->lease(kKey, type, omt::queue::Lane::backfill, 10'000'000, std::chrono::minutes(1));
      if (!leased) continue;
      for (auto& r : leased->records) out.emplace_back(r.id, std::string(omt::ometria::to_string(type)));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // The folders where imports keep the plan's records (beside the queue file): there only while one runs.
  std::vector<fs::path> spill_folders() const {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir_))
      if (entry.path().filename().string().rfind("queue.db.import-spill-", 0) == 0) out.push_back(entry.path());
    return out;
  }
  std::size_t count_queued() const {
    std::size_t n = 0;
    for (const auto& [type, records] : queued()) n += records.size();
    return n;
  }

  fs::path dir_, db_, config_;
};

TEST_F(ImportCommandTest, DryRunPrintsThePlanAndEnqueuesNothing) {
  auto r = run(import_args(cases("events.jsonl"), "--dry-run"), true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("read:      5 items (1 skipped: not sent for this source)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 product, 2 contact, 1 order, 1 custom_event"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("delivery:  3 pushes, about 0s at the key's rate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("old-custom-events: 1 of 1 custom events are more than four hours old (first at "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("events.jsonl:6)"), std::string::npos) << r.out;  // the custom event's line
  EXPECT_NE(r.out.find("Dry run: the import would be refused"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(db_)) << "a dry run created the queue";
}

TEST_F(ImportCommandTest, AHazardIsRefusedThenAcceptedAndPassesGoByType) {
  auto refused = run(import_args(cases("events.jsonl"), "--quiet"), true);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find("refused: hazard old-custom-events"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--accept old-custom-events"), std::string::npos) << refused.out;
  EXPECT_EQ(count_queued(), 0u);

  auto accepted = run(import_args(cases("events.jsonl"), "--quiet --accept old-custom-events"), true);
  ASSERT_EQ(accepted.exit_code, 0) << accepted.out;
  EXPECT_NE(accepted.out.find("Imported: 4 of 4 records queued in the backfill lane"), std::string::npos) << accepted.out;
  auto records = queued();
  ASSERT_EQ(records[RecordType::contact].size(), 2u);
  ASSERT_EQ(records[RecordType::order].size(), 1u);
  ASSERT_EQ(records[RecordType::custom_event].size(), 1u);
  // The opt-in the data carries, and no other.
  EXPECT_NE(records[RecordType::contact][0].find(R"("marketing_optin":"EXPLICITLY_OPTEDIN")"), std::string::npos);
  EXPECT_NE(records[RecordType::contact][1].find(R"("marketing_optin":"EXPLICITLY_OPTEDOUT")"), std::string::npos);
  // Contacts were enqueued before the order, the order before the custom event.
  EXPECT_EQ(types_in_queue_order(), (std::vector<std::string>{"contact", "contact", "order", "custom_event"}));
  EXPECT_TRUE(spill_folders().empty()) << "the plan's spill outlived the import (refused, then finished)";
}

TEST_F(ImportCommandTest, TheSourcesDefaultOptInIsSentOnlyWhenAskedTo) {
  const auto file = dir_ / "no-optin.jsonl";
  std::ofstream(file) << R"({"type":"identify","userId":"u9","context":{"traits":{"listingId":"L9","email":"nine@example.com"}}})"
                      << "\n";
  ASSERT_EQ(run(import_args(file.string(), "--quiet")).exit_code, 0);
  auto without = queued()[RecordType::contact];
  ASSERT_EQ(without.size(), 1u);
  EXPECT_EQ(without[0].find("marketing_optin"), std::string::npos) << without[0];

  auto with = run(import_args(file.string(), "--quiet --again --send-default-optin --accept one-optin-for-all"), true);
  ASSERT_EQ(with.exit_code, 0) << with.out;
  auto both = queued()[RecordType::contact];
  ASSERT_EQ(both.size(), 2u);
  EXPECT_NE(both[1].find(R"("marketing_optin":"EXPLICITLY_OPTEDOUT")"), std::string::npos) << both[1];
}

TEST_F(ImportCommandTest, BadRowsAreListedAndRefusedUnlessAllowed) {
  auto refused = run(import_args(cases("records.jsonl"), "--quiet"), true);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find("records.jsonl:4: email: is required"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("records.jsonl:7: not valid JSON"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("2 invalid rows (at most 0 allowed)"), std::string::npos) << refused.out;
  EXPECT_EQ(count_queued(), 0u);
  EXPECT_EQ(run(import_args(cases("records.jsonl"), "--quiet --max-bad-records 1")).exit_code, 2);

  auto allowed = run(import_args(cases("records.jsonl"), "--quiet --max-bad-records 2 --json"));
  ASSERT_EQ(allowed.exit_code, 0) << allowed.out;
  auto summary = nlohmann::json::parse(allowed.out);
  EXPECT_EQ(summary["state"], "finished");
  EXPECT_EQ(summary["queued"], 5);
  EXPECT_EQ(summary["plan"]["records"]["product"], 2);
  EXPECT_EQ(summary["plan"]["records"]["contact"], 2);
  EXPECT_EQ(summary["plan"]["records"]["order"], 1);
  EXPECT_EQ(summary["plan"]["bad_rows"], 2);
  EXPECT_EQ(summary["plan"]["listed_bad_rows"][0]["line"], 4);
  EXPECT_EQ(summary["plan"]["listed_bad_rows"][0]["field"], "email");
  EXPECT_EQ(types_in_queue_order(), (std::vector<std::string>{"product", "product", "contact", "contact", "order"}));
}

// A malformed row inside a CSV group makes a message quoting the group's key: a key that is not valid UTF-8 is
// written into --json with U+FFFD in its place (the summary stays JSON), never thrown on.
TEST_F(ImportCommandTest, AMalformedRowMessageQuotingAKeyThatIsNotUtf8IsWrittenReplacedInJson) {
  std::string csv = read_file(cases("csv/shopify_orders.csv"));
  std::string rows;
  std::istringstream lines(csv);
  std::string line, header;
  std::getline(lines, header);
  int n = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("#1001,", 0) == 0) line = "#10\xff" "01," + line.substr(6);  // the group's key: not UTF-8
    rows += line + "\n";
    if (++n == 1) rows += "only,three,fields\n";  // malformed, inside the group
  }
  const fs::path file = dir_ / "bad-key.csv";
  std::ofstream(file, std::ios::binary) << header << "\n" << rows;
  auto r = run(import_args(file.string(), "--dry-run --json --type order --max-bad-records 100"), true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json summary;
  ASSERT_NO_THROW(summary = nlohmann::json::parse(r.out)) << r.out;
  ASSERT_GE(summary["plan"]["listed_bad_rows"].size(), 1u) << r.out;
  const std::string reason = summary["plan"]["listed_bad_rows"][0]["reason"];
  EXPECT_NE(reason.find("\"#10\xEF\xBF\xBD" "01\""), std::string::npos) << reason;
}

TEST_F(ImportCommandTest, AFinishedImportSaysSoAndAgainImportsOnceMore) {
  ASSERT_EQ(run(import_args(cases("records.jsonl"), "--quiet --max-bad-records 2")).exit_code, 0);
  auto again = run(import_args(cases("records.jsonl"), "--quiet --max-bad-records 2"), true);
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("already imported (run 1, 5 records): nothing to do; pass --again"), std::string::npos) << again.out;
  EXPECT_EQ(count_queued(), 5u);
  ASSERT_EQ(run(import_args(cases("records.jsonl"), "--quiet --max-bad-records 2 --again")).exit_code, 0);
  EXPECT_EQ(count_queued(), 10u);

  auto status = run("import status --json --config '" + config_.string() + "'");
  ASSERT_EQ(status.exit_code, 0) << status.out;
  auto imports = nlohmann::json::parse(status.out)["imports"];
  ASSERT_EQ(imports.size(), 2u);
  EXPECT_EQ(imports[0]["state"], "superseded");
  EXPECT_EQ(imports[1]["state"], "finished");
  EXPECT_EQ(imports[1]["records"], 5);
  EXPECT_EQ(imports[1]["source"], "shop");
  ASSERT_EQ(imports[1]["files"].size(), 1u);
  EXPECT_EQ(imports[1]["files"][0]["passes_done"], 4);
  // The queue's lanes: both runs' records wait in the backfill lane of the shop's key, none delivered yet.
  std::map<std::string, nlohmann::json> lanes;
  const auto answer = nlohmann::json::parse(status.out);
  for (const auto& l : answer["lanes"]) lanes[l["type"].get<std::string>()] = l;
  ASSERT_EQ(lanes.size(), 3u) << status.out;
  EXPECT_EQ(lanes["contact"]["lane"], "backfill");
  EXPECT_EQ(lanes["contact"]["source"], "shop");
  EXPECT_EQ(lanes["contact"]["depth"], 4);
  EXPECT_EQ(lanes["product"]["depth"], 4);
  EXPECT_EQ(lanes["order"]["depth"], 2);
  EXPECT_EQ(lanes["order"]["delivered"], 0);
  auto text = run("import status --config '" + config_.string() + "'");
  EXPECT_NE(text.out.find("run 2  finished  source shop  5 records queued  1/1 files done"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(shop)  contact  backfill: 4 waiting, 0 delivered, 0 dead-lettered"), std::string::npos) << text.out;
}

TEST_F(ImportCommandTest, GzipIsReadAsPlainAndATruncatedGzipNamesTheFile) {
  const std::string plain = read_file(cases("records.jsonl"));
  const std::string gz = omt::test::gzip(plain);
  std::ofstream(dir_ / "records.jsonl.gz", std::ios::binary) << gz;
  // Detected by its magic bytes, whatever its name.
  std::ofstream(dir_ / "records.data", std::ios::binary) << gz;
  auto r = run(import_args((dir_ / "records.jsonl.gz").string(), "--quiet --max-bad-records 2 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["queued"], 5);
  auto magic = run(import_args((dir_ / "records.data").string(), "--dry-run --json --max-bad-records 2"));
  ASSERT_EQ(magic.exit_code, 0) << magic.out;
  EXPECT_EQ(nlohmann::json::parse(magic.out)["plan"]["total_records"], 5);

  std::ofstream(dir_ / "cut.jsonl.gz", std::ios::binary) << gz.substr(0, gz.size() / 2);
  auto cut = run(import_args((dir_ / "cut.jsonl.gz").string(), "--quiet --format records"), true);
  EXPECT_EQ(cut.exit_code, 2) << cut.out;
  EXPECT_NE(cut.out.find((dir_ / "cut.jsonl.gz").string() + ": truncated gzip"), std::string::npos) << cut.out;
}

TEST_F(ImportCommandTest, AFolderIsWalkedInSortedOrder) {
  fs::create_directories(dir_ / "archive" / "2024-05-02");
  fs::create_directories(dir_ / "archive" / "2024-05-01");
  std::ofstream(dir_ / "archive" / "2024-05-02" / "a.json") << R"({"@type":"product","id":"second","title":"B","price":1})" << "\n";
  std::ofstream(dir_ / "archive" / "2024-05-01" / "z.json") << R"({"@type":"product","id":"first","title":"A","price":1})" << "\n";
  std::ofstream(dir_ / "archive" / ".hidden") << "ignored\n";
  ASSERT_EQ(run(import_args((dir_ / "archive").string(), "--quiet")).exit_code, 0);
  auto products = queued()[RecordType::product];
  ASSERT_EQ(products.size(), 2u);
  EXPECT_NE(products[0].find("\"first\""), std::string::npos);
  EXPECT_NE(products[1].find("\"second\""), std::string::npos);
}

TEST_F(ImportCommandTest, UnusableOptionsAreRefusedBeforeAnythingIsRead) {
  auto no_source = run("import " + cases("records.jsonl") + " --config '" + config_.string() + "'", true);
  EXPECT_EQ(no_source.exit_code, 2);
  EXPECT_NE(no_source.out.find("--source NAME is required"), std::string::npos) << no_source.out;
  auto unknown = run("import " + cases("records.jsonl") + " --source nope --config '" + config_.string() + "'", true);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("no source named \"nope\" in the configuration (its sources: shop)"), std::string::npos) << unknown.out;
  auto hazard = run(import_args(cases("records.jsonl"), "--accept everything"), true);
  EXPECT_EQ(hazard.exit_code, 2);
  EXPECT_NE(hazard.out.find("no hazard named \"everything\""), std::string::npos) << hazard.out;
  auto csv = run(import_args(cases("records.jsonl"), "--format csv"), true);
  EXPECT_EQ(csv.exit_code, 2);
  EXPECT_NE(csv.out.find("CSV input needs --type contact, order or product"), std::string::npos) << csv.out;
  auto type_without_csv = run(import_args(cases("records.jsonl"), "--type order"), true);
  EXPECT_EQ(type_without_csv.exit_code, 2);
  EXPECT_NE(type_without_csv.out.find("--type and --csv-table apply to CSV input only"), std::string::npos) << type_without_csv.out;
}

// ---- large imports, stopped in the middle ----

using omt::test::committed_records;
using omt::test::write_identifies;

std::vector<std::string> import_argv(const std::vector<fs::path>& files, const fs::path& config) {
  std::vector<std::string> argv = {"import"};
  for (const auto& f : files) argv.push_back(f.string());
  argv.insert(argv.end(), {"--source", "shop", "--config", config.string()});
  return argv;
}

// Waits until the running import has committed some records but not all; false if it never did.
bool wait_until_partly_committed(const fs::path& db, std::int64_t total, omt::test::ChildProcess& child) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto n = committed_records(db);
    if (n > 0 && n < total) return true;
    if (n >= total || child.wait_exit(std::chrono::milliseconds(0))) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

constexpr std::size_t kContacts = 150'000;

// A large import (kContacts identifies over `count` files, queue durability full) started as the real binary and
// caught with some but not all of its records committed.
class LargeImportTest : public ImportCommandTest {
 protected:
  void start(std::size_t count) {
    write_config({{"queue", {{"durability", "full"}}}});
    files_ = write_identifies(dir_, kContacts, count);
    child_ = std::make_unique<omt::test::ChildProcess>(OMT_BINARY, import_argv(files_, config_));
    ASSERT_TRUE(wait_until_partly_committed(db_, kContacts, *child_)) << "the import was never caught in the middle";
  }
  std::string quoted_files() const {
    std::string args;
    for (const auto& f : files_) args += "'" + f.string() + "' ";
    return args;
  }
  std::vector<fs::path> files_;
  std::unique_ptr<omt::test::ChildProcess> child_;
};

TEST_F(LargeImportTest, KilledInTheMiddleAndRunAgainEveryRecordIsQueuedExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(start(3));
  child_->signal(SIGKILL);
  ASSERT_TRUE(child_->wait_exit(std::chrono::seconds(10)));
  const auto before = committed_records(db_);
  ASSERT_GT(before, 0);
  ASSERT_LT(before, static_cast<std::int64_t>(kContacts));
  // The killed process left its spill behind: the rerun never trusts it. Damaged here, it must not matter.
  const auto left = spill_folders();
  ASSERT_EQ(left.size(), 1u);
  for (const auto& entry : fs::directory_iterator(left[0])) std::ofstream(entry.path(), std::ios::trunc) << "not a spill";
  std::ofstream(left[0] / "file0-pass1") << "omtspl1\n damaged";

  auto rerun = run(import_args(quoted_files(), "--quiet"), true);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out;
  EXPECT_NE(rerun.out.find("Resuming import run 1"), std::string::npos) << rerun.out;
  EXPECT_NE(rerun.out.find("Imported: " + std::string("150,000") + " of 150,000 records"), std::string::npos) << rerun.out;

  // Every contact exactly once, by id.
  const auto contacts = queued()[RecordType::contact];
  ASSERT_EQ(contacts.size(), kContacts);
  std::set<std::string> ids;
  for (const auto& json : contacts) {
    const auto record = nlohmann::json::parse(json);
    EXPECT_TRUE(ids.insert(record["id"].get<std::string>()).second) << "enqueued twice: " << record["id"];
  }
  for (std::size_t i = 0; i < kContacts; ++i) ASSERT_TRUE(ids.count("L" + std::to_string(i))) << "skipped: L" << i;
  EXPECT_TRUE(spill_folders().empty());
}

TEST_F(LargeImportTest, CtrlCCommitsWhatIsPendingAndAChangedFileIsThenRefused) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  child_->signal(SIGINT);
  const auto status = child_->wait_exit(std::chrono::seconds(20));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 1) << child_->output();
  EXPECT_NE(child_->output().find("interrupted; run again to continue"), std::string::npos) << child_->output();
  const auto committed = committed_records(db_);
  EXPECT_LT(committed, static_cast<std::int64_t>(kContacts));
  EXPECT_EQ(count_queued(), static_cast<std::size_t>(committed));  // records and checkpoints agree
  EXPECT_TRUE(spill_folders().empty()) << "an interrupted import left its spill behind";

  auto listed = run("import status --json --config '" + config_.string() + "'");
  ASSERT_EQ(listed.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(listed.out)["imports"][0]["state"], "interrupted");

  std::ofstream(files_[1], std::ios::app) << R"({"type":"identify","userId":"late"})" << "\n";
  auto refused = run(import_args(quoted_files(), "--quiet"), true);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find(files_[1].string() + " changed ("), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("pass --again"), std::string::npos) << refused.out;
  EXPECT_EQ(count_queued(), static_cast<std::size_t>(committed));
}

}  // namespace

// A Shopify order export (one row per line item) read by the shipped table: one order per `Name`, with its line
// items, in the backfill lane; without --type the command says what it needs.
TEST_F(ImportCommandTest, AShopifyOrderCsvBecomesOneOrderPerNameWithItsLineItems) {
  auto untyped = run(import_args(cases("csv/shopify_orders.csv"), "--quiet"), true);
  EXPECT_EQ(untyped.exit_code, 2) << untyped.out;
  EXPECT_NE(untyped.out.find("--type: CSV input needs --type contact, order or product"), std::string::npos) << untyped.out;
  auto wrong = run(import_args(cases("csv/shopify_orders.csv"), "--quiet --type order --csv-table no_such_table"), true);
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out;
  EXPECT_NE(wrong.out.find("--csv-table"), std::string::npos) << wrong.out;

  auto imported = run(import_args(cases("csv/shopify_orders.csv"), "--quiet --type order"), true);
  ASSERT_EQ(imported.exit_code, 0) << imported.out;
  auto orders = queued()[RecordType::order];
  ASSERT_EQ(orders.size(), 2u);
  const auto first = nlohmann::json::parse(orders[0]);
  EXPECT_EQ(first["id"], "5511111111111");
  EXPECT_EQ(first["currency"], "GBP");
  ASSERT_TRUE(first["lineitems"].is_array());
  EXPECT_GE(first["lineitems"].size(), 2u);
  // What the table makes, exactly as the reader's own golden file says (its second column is the line).
  const std::string expected = read_file(cases("csv/shopify_orders.expected"));
  EXPECT_NE(expected.find(orders[0]), std::string::npos) << orders[0];
  // The same CSV options again: already imported. The CSV options are part of what makes an import itself.
  auto same = run(import_args(cases("csv/shopify_orders.csv"), "--quiet --type order"), true);
  EXPECT_EQ(same.exit_code, 0) << same.out;
  EXPECT_NE(same.out.find("already imported"), std::string::npos) << same.out;
  auto named = run(import_args(cases("csv/shopify_orders.csv"), "--quiet --type order --csv-table shopify_orders"), true);
  EXPECT_EQ(named.exit_code, 0) << named.out;
  EXPECT_EQ(named.out.find("already imported"), std::string::npos) << "another --csv-table is another import: " << named.out;
}
