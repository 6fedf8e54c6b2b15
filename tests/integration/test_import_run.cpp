// import::run_passes over the in-memory queue (which keeps lanes): the backfill cap makes the import wait, not
// fail, while delivery drains the lane; a stop commits what is pending and a resumed run enqueues the rest
// exactly once; delivered counts the records that left the lane. The classify pipeline (workers) hands out
// what one thread would, in the same order, however many workers transform.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include "memory_queue.hpp"
#include "omt/import/classify_pipeline.hpp"
#include "omt/import/record_spill.hpp"
#include "omt/import/import_run.hpp"

namespace {

namespace fs = std::filesystem;
using namespace omt::import;

class ImportRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "omt-import-run-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto loaded = omt::ometria::Transformer::load(fs::path(OMT_SOURCE_DIR) / "mappings");
    ASSERT_TRUE(loaded) << loaded.error().message;
    transformer_.emplace(std::move(*loaded));
    source_.name = "shop";
    source_.destination.api_key = "k";
    mapper_.emplace(*transformer_, source_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // n products (records), one file.
  std::vector<InputFile> products(std::size_t n) {
    const auto path = dir_ / "products.jsonl";
    std::ofstream out(path);
    for (std::size_t i = 0; i < n; ++i) out << R"({"@type":"product","id":"p)" << i << R"(","title":"T","price":1})" << "\n";
    out.close();
    auto inputs = resolve_inputs({path.string()}, std::nullopt);
    EXPECT_TRUE(inputs) << inputs.error().message;
    return *inputs;
  }
  PlannedInputs plan(const std::vector<InputFile>& inputs) {
    auto planned = plan_inputs(inputs, *mapper_, 0, 8, nullptr, nullptr);
    EXPECT_TRUE(planned) << planned.error().message;
    return *planned;
  }
  omt::queue::ImportRun start(const std::vector<InputFile>& inputs) {
    std::vector<omt::queue::ImportFile> files;
    for (const auto& i : inputs) files.push_back(i.identity);
    return *queue_.start_import_run({"key", "shop", "{}", files});
  }
  ImportContext context() {
    ImportContext c;
    c.queue = &queue_;
    c.mapper = &*mapper_;
    c.api_key = "k";
    return c;
  }
  std::set<std::string> queued_ids() {
    std::set<std::string> ids;
    for (const auto& r : queue_.records()) {
      const auto at = r.json.find("\"id\":\"") + 6;
      EXPECT_TRUE(ids.insert(r.json.substr(at, r.json.find('"', at) - at)).second) << "twice: " << r.json;
      EXPECT_EQ(r.lane, omt::queue::Lane::backfill);
    }
    return ids;
  }

  fs::path dir_;
  std::optional<omt::ometria::Transformer> transformer_;
  omt::config::SourceConfig source_;
  std::optional<EventMapper> mapper_;
  omt::test::MemoryQueue queue_;
};

TEST_F(ImportRunTest, AFullBackfillLaneMakesTheImportWaitUntilDeliveryDrainsIt) {
  const auto inputs = products(95);
  const auto planned = plan(inputs);
  auto run = start(inputs);
  ImportContext c = context();
  c.max_queued = 20;
  c.batch_records = 10;
  std::size_t waits = 0, delivered = 0;
  bool saw_waiting = false;
  std::optional<std::uint64_t> last_delivered;
  c.on_progress = [&](const Progress& p) {
    saw_waiting = saw_waiting || p.waiting_for_lane;
    last_delivered = p.delivered;
    EXPECT_LE(queue_.depth(), 20u);  // never past the cap
  };
  // "Delivery": each wait, the oldest 10 leave the queue.
  c.sleep = [&](std::chrono::milliseconds) {
    ++waits;
    delivered += queue_.deliver_oldest(10);
  };
  std::int64_t clock = 0;
  c.now_unix_ms = [&] { return clock += 2000; };
  auto totals = run_passes(c, run, inputs, planned);
  ASSERT_TRUE(totals) << totals.error().message;
  EXPECT_FALSE(totals->interrupted);
  EXPECT_EQ(totals->queued, 95u);
  EXPECT_TRUE(saw_waiting);
  EXPECT_GE(waits, 7u);
  EXPECT_EQ(delivered + queue_.depth(), 95u);
  ASSERT_TRUE(last_delivered);
  EXPECT_GT(*last_delivered, 0u);
}

TEST_F(ImportRunTest, AStopCommitsWhatIsPendingAndTheResumedRunEnqueuesTheRestOnce) {
  const auto inputs = products(1000);
  const auto planned = plan(inputs);
  auto run = start(inputs);
  ImportContext c = context();
  c.batch_records = 64;
  std::size_t batches = 0;
  c.on_progress = [&](const Progress&) { ++batches; };
  c.stop_requested = [&] { return batches >= 3; };
  auto first = run_passes(c, run, inputs, planned);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->interrupted);
  const std::uint64_t committed = first->queued;
  EXPECT_GE(committed, 3u * 64);  // what had committed when the stop came, and the batch in flight
  EXPECT_LT(committed, 1000u);
  EXPECT_EQ(queue_.records().size(), committed);

  auto stored = queue_.import_runs("key");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].records, committed);
  c.stop_requested = nullptr;
  // The resumed run without the plan's hints (as when they were too many to keep): every item is looked at.
  auto without_hints = planned;
  without_hints.hints_per_file.assign(inputs.size(), std::nullopt);
  auto second = run_passes(c, (*stored)[0], inputs, without_hints);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->interrupted);
  EXPECT_EQ(second->queued, 1000u);
  EXPECT_EQ(second->queued_now, 1000u - committed);
  const auto ids = queued_ids();
  EXPECT_EQ(ids.size(), 1000u);
  // Every pass of the file is done.
  stored = queue_.import_runs("key");
  std::size_t done = 0;
  for (const auto& cp : (*stored)[0].checkpoints) done += cp.done;
  EXPECT_EQ(done, pass_count);
}

// The records of a CSV group (a Shopify product and its variants) share offsets: a checkpoint is only taken where
// the offset moves on, so a batch of 2 records never leaves a checkpoint that would make the resumed run skip a
// record of the group that was never queued (or queue one twice).
TEST_F(ImportRunTest, ACheckpointNeverSplitsRecordsOfOneOffsetSoAResumedCsvRunQueuesEveryRecordOnce) {
  const auto path = dir_ / "products.csv";
  {
    std::ofstream out(path);
    out << "Handle,Title,Vendor,Variant SKU,Variant Price,Status\n";
    for (int p = 0; p < 25; ++p)
      for (int v = 0; v < 3; ++v) out << "h" << p << "," << (v == 0 ? "Title " + std::to_string(p) : "") << ",Acme,SKU-" << p << "-" << v << ",9.50,active\n";
  }
  auto tables = CsvTables::load(fs::path(OMT_SOURCE_DIR) / "mappings" / "import");
  ASSERT_TRUE(tables) << tables.error().message;
  auto choice = std::make_shared<CsvTableChoice>();
  choice->type = omt::ometria::RecordType::product;
  choice->detect_among = &*tables;
  auto inputs = resolve_inputs({path.string()}, InputFormat::csv);
  ASSERT_TRUE(inputs) << inputs.error().message;
  for (auto& i : *inputs) i.csv = choice;
  const auto planned = plan(*inputs);
  auto run = start(*inputs);
  ImportContext c = context();
  c.batch_records = 2;
  std::size_t batches = 0;
  c.on_progress = [&](const Progress&) { ++batches; };
  c.stop_requested = [&] { return batches >= 5; };
  auto first = run_passes(c, run, *inputs, planned);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->interrupted);
  EXPECT_GT(first->queued, 0u);
  EXPECT_LT(first->queued, 100u);
  c.stop_requested = nullptr;
  auto stored = queue_.import_runs("key");
  ASSERT_TRUE(stored);
  auto second = run_passes(c, (*stored)[0], *inputs, planned);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->interrupted);
  const auto ids = queued_ids();  // fails on a record queued twice
  EXPECT_EQ(ids.size(), 25u * 4);  // each product and its three variants
  EXPECT_TRUE(ids.contains("h24")) << "the last group";
}

TEST_F(ImportRunTest, MixedTypesGoInPassOrderWithOrWithoutHints) {
  const auto path = dir_ / "mixed.jsonl";
  std::ofstream(path) << R"({"@type":"order","id":"o1","timestamp":"2024-05-01T10:00:00Z","grand_total":1,"currency":"GBP"})" "\n"
                      << R"({"@type":"contact","id":"c1","email":"a@example.com"})" "\n"
                      << R"({"@type":"product","id":"p1","title":"T","price":1})" "\n"
                      << R"({"@type":"contact","id":"c2","email":"b@example.com"})" "\n";
  auto inputs = resolve_inputs({path.string()}, std::nullopt);
  ASSERT_TRUE(inputs) << inputs.error().message;
  for (bool hints : {true, false}) {
    omt::test::MemoryQueue queue;
    auto planned = plan(*inputs);
    if (!hints) planned.hints_per_file.assign(1, std::nullopt);
    auto run = *queue.start_import_run({"key", "shop", "{}", {(*inputs)[0].identity}});
    ImportContext c = context();
    c.queue = &queue;
    ASSERT_TRUE(run_passes(c, run, *inputs, planned));
    std::vector<omt::queue::RecordType> types;
    for (const auto& r : queue.records()) types.push_back(r.type);
    using T = omt::queue::RecordType;
    EXPECT_EQ(types, (std::vector<T>{T::product, T::contact, T::contact, T::order})) << "hints: " << hints;
  }
}

// Events of every outcome: contacts, custom events, skipped calls (page) and bad rows (not JSON), mixed.
std::string mixed_events(std::size_t n) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string id = std::to_string(i);
    switch (i % 5) {
      case 0:
      case 3:
        text += R"({"type":"identify","messageId":"m)" + id + R"(","userId":"u)" + id + R"(","context":{"traits":{"email":"user)" +
                id + R"(@example.com"}},"timestamp":"2024-05-01T10:00:00.000Z"})";
        break;
      case 1:
        text += R"({"type":"track","event":"Wishlist Added","messageId":"m)" + id + R"(","userId":"u)" + id +
                R"(","properties":{"email":"user)" + id + R"(@example.com","n":)" + id + R"(},"timestamp":"2024-05-01T10:00:00.000Z"})";
        break;
      case 2: text += R"({"type":"page","messageId":"m)" + id + R"(","userId":"u)" + id + R"("})"; break;
      default: text += "{not json " + id; break;
    }
    text += "\n";
  }
  return text;
}

TEST_F(ImportRunTest, ThePlanAndThePassesAreTheSameWithOneWorkerOrFour) {
  const auto path = dir_ / "events.jsonl";
  std::ofstream(path) << mixed_events(2000);  // many chunks of the pipeline
  auto inputs = resolve_inputs({path.string()}, std::nullopt);
  ASSERT_TRUE(inputs) << inputs.error().message;
  std::vector<std::vector<std::string>> queued;
  std::vector<PlannedInputs> plans;
  std::vector<RunTotals> totals_of;
  for (std::size_t threads : {1u, 4u}) {
    auto planned = plan_inputs(*inputs, *mapper_, 0, 8, nullptr, nullptr, threads);
    ASSERT_TRUE(planned) << planned.error().message;
    omt::test::MemoryQueue queue;
    auto run = *queue.start_import_run({"key", "shop", "{}", {(*inputs)[0].identity}});
    ImportContext c = context();
    c.queue = &queue;
    c.transform_threads = threads;
    c.batch_records = 100;
    auto totals = run_passes(c, run, *inputs, *planned);
    ASSERT_TRUE(totals) << totals.error().message;
    totals_of.push_back(*totals);
    auto& records = queued.emplace_back();
    for (const auto& r : queue.records()) records.push_back(r.json);
    plans.push_back(std::move(*planned));
  }
  const Plan& one = plans[0].plan;
  const Plan& four = plans[1].plan;
  EXPECT_EQ(one.records, four.records);
  EXPECT_GT(one.records_of(omt::ometria::RecordType::contact), 0u);
  EXPECT_GT(one.records_of(omt::ometria::RecordType::custom_event), 0u);
  EXPECT_EQ(one.skipped, 400u);
  EXPECT_EQ(one.bad_rows, 400u);
  EXPECT_EQ(four.skipped, one.skipped);
  EXPECT_EQ(four.bad_rows, one.bad_rows);
  ASSERT_EQ(four.listed_bad_rows.size(), one.listed_bad_rows.size());
  for (std::size_t i = 0; i < one.listed_bad_rows.size(); ++i) EXPECT_EQ(four.listed_bad_rows[i].at.line, one.listed_bad_rows[i].at.line);
  ASSERT_TRUE(plans[0].hints_per_file[0] && plans[1].hints_per_file[0]);
  EXPECT_EQ(plans[0].hints_per_file[0]->size(), plans[1].hints_per_file[0]->size());
  EXPECT_EQ(queued[0].size(), one.total_records());
  EXPECT_EQ(queued[1], queued[0]);  // the same records in the same order
  EXPECT_EQ(totals_of[1].read, totals_of[0].read);
  EXPECT_EQ(totals_of[1].errors, totals_of[0].errors);
  EXPECT_EQ(totals_of[1].skipped, totals_of[0].skipped);
}

// ---- the plan's spill (record_spill.hpp) ----

// What a run left in the queue: its records (type and JSON, in queue order) and its checkpoints.
struct RunResult {
  std::vector<std::pair<omt::queue::RecordType, std::string>> records;
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t, std::uint64_t, std::uint64_t, bool>> checkpoints;
};
RunResult result_of(omt::test::MemoryQueue& queue) {
  RunResult out;
  for (const auto& r : queue.records()) out.records.emplace_back(r.type, r.json);
  auto runs = queue.import_runs("key");
  EXPECT_TRUE(runs && runs->size() == 1);
  for (const auto& c : runs->back().checkpoints)
    out.checkpoints.emplace_back(c.file_index, c.pass, c.offset, c.line, c.records, c.done);
  return out;
}

class ImportSpillTest : public ImportRunTest {
 protected:
  void SetUp() override {
    ImportRunTest::SetUp();
    // Two files: events of every outcome, and records of three types interleaved.
    std::ofstream(dir_ / "a-events.jsonl") << mixed_events(2000);
    std::ofstream records(dir_ / "b-records.jsonl");
    for (int i = 0; i < 600; ++i) {
      const std::string id = std::to_string(i);
      if (i % 3 == 0) records << R"({"@type":"product","id":"p)" << id << R"(","title":"T","price":1})" "\n";
      if (i % 3 == 1) records << R"({"@type":"contact","id":"c)" << id << R"(","email":"c)" << id << R"(@example.com"})" "\n";
      if (i % 3 == 2)
        records << R"({"@type":"order","id":"o)" << id << R"(","timestamp":"2024-05-01T10:00:00Z","grand_total":1,"currency":"GBP"})" "\n";
    }
    records.close();
    auto inputs = resolve_inputs({(dir_ / "a-events.jsonl").string(), (dir_ / "b-records.jsonl").string()}, std::nullopt);
    ASSERT_TRUE(inputs) << inputs.error().message;
    inputs_ = std::move(*inputs);
    spill_dir_ = dir_ / "spill";
    fs::create_directories(spill_dir_);
  }
  PlannedInputs plan_with(bool spill) {
    auto planned = plan_inputs(inputs_, *mapper_, 0, 8, nullptr, nullptr, 2, spill ? spill_dir_ : fs::path());
    EXPECT_TRUE(planned) << planned.error().message;
    EXPECT_EQ(planned->spill_given_up_because, "");
    return std::move(*planned);
  }
  omt::queue::ImportRun start_in(omt::test::MemoryQueue& queue) {
    return *queue.start_import_run({"key", "shop", "{}", {inputs_[0].identity, inputs_[1].identity}});
  }
  ImportContext context_on(omt::test::MemoryQueue& queue) {
    ImportContext c = context();
    c.queue = &queue;
    c.batch_records = 64;
    return c;
  }
  // The whole import in one go, spill or not.
  RunResult whole_run(bool spill) {
    omt::test::MemoryQueue queue;
    const auto planned = plan_with(spill);
    auto c = context_on(queue);
    auto totals = run_passes(c, start_in(queue), inputs_, planned);
    EXPECT_TRUE(totals) << totals.error().message;
    return result_of(queue);
  }
  std::size_t files_in_spill() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(spill_dir_), fs::directory_iterator()));
  }

  std::vector<InputFile> inputs_;
  fs::path spill_dir_;
};

TEST_F(ImportSpillTest, ThePassesQueueTheSameRecordsAndCheckpointsFromThePlansSpillAsByTransformingAgain) {
  const auto planned = plan_with(true);
  ASSERT_EQ(planned.spilled_per_file.size(), 2u);
  for (std::size_t f = 0; f < 2; ++f)
    for (std::size_t pass = 0; pass < pass_count; ++pass)  // a spill exactly where the file has records of the pass
      EXPECT_EQ(planned.spilled_per_file[f][pass].has_value(), planned.records_per_file[f][pass] > 0) << f << " " << pass;
  EXPECT_GT(files_in_spill(), 4u);
  EXPECT_TRUE(plan_with(false).spilled_per_file.empty());

  omt::test::MemoryQueue queue;
  auto c = context_on(queue);
  auto totals = run_passes(c, start_in(queue), inputs_, planned);
  ASSERT_TRUE(totals) << totals.error().message;
  EXPECT_EQ(totals->queued, planned.plan.total_records());
  EXPECT_EQ(totals->errors, planned.plan.bad_rows);  // the inputs' bad rows, known from the plan
  EXPECT_EQ(totals->skipped, planned.plan.skipped);
  EXPECT_EQ(files_in_spill(), 0u) << "each spill is removed once its pass read it through";

  const RunResult spilled = result_of(queue);
  const RunResult transformed = whole_run(false);
  ASSERT_EQ(spilled.records.size(), planned.plan.total_records());
  EXPECT_TRUE(spilled.records == transformed.records) << "the same records, byte for byte, in the same order";
  EXPECT_EQ(spilled.checkpoints.size(), 2 * pass_count);
  EXPECT_TRUE(spilled.checkpoints == transformed.checkpoints) << "every pass ends where reading the file ends";
}

// Progress "read" counts input items in every pass, whether the pass reads its spill (which holds only the
// pass's records) or the file: the same figures in the last report and in the totals.
TEST_F(ImportSpillTest, ProgressReadCountsInputItemsWhetherAPassReadsItsSpillOrTheFile) {
  const auto read_by = [&](bool spill) {
    omt::test::MemoryQueue queue;
    const auto planned = plan_with(spill);
    auto c = context_on(queue);
    std::uint64_t last_report = 0;
    c.on_progress = [&](const Progress& p) { last_report = p.read; };
    auto totals = run_passes(c, start_in(queue), inputs_, planned);
    EXPECT_TRUE(totals) << totals.error().message;
    EXPECT_EQ(totals ? totals->read : 0, last_report);
    return totals ? totals->read : 0;
  };
  const std::uint64_t spilled = read_by(true), transformed = read_by(false);
  EXPECT_EQ(spilled, transformed);
  // Each pass with records in a file reads that file through: every item of it.
  const auto planned = plan_with(false);
  ASSERT_EQ(planned.items_per_file.size(), 2u);
  std::uint64_t expected = 0;
  for (std::size_t f = 0; f < 2; ++f)
    for (std::size_t pass = 0; pass < pass_count; ++pass)
      if (planned.records_per_file[f][pass] > 0) expected += planned.items_per_file[f];
  EXPECT_EQ(spilled, expected);
  EXPECT_GT(expected, planned.plan.total_records()) << "no items of other passes: the test proves less than it says";
}

// Stopped after a few batches and resumed by a new process (which plans again, so writes its spill anew), with
// or without a spill on either side: every record once, in the order of a run never stopped.
TEST_F(ImportSpillTest, AStoppedRunResumesExactlyWhetherEitherProcessHadASpillOrNot) {
  const RunResult whole = whole_run(false);
  for (const auto& [first_spills, second_spills] : std::vector<std::pair<bool, bool>>{{true, true}, {true, false}, {false, true}}) {
    SCOPED_TRACE(::testing::Message() << "first spills " << first_spills << ", second spills " << second_spills);
    omt::test::MemoryQueue queue;
    auto c = context_on(queue);
    std::size_t batches = 0;
    c.on_progress = [&](const Progress&) { ++batches; };
    c.stop_requested = [&] { return batches >= 12; };  // in the middle of the events' contact pass
    auto first = run_passes(c, start_in(queue), inputs_, plan_with(first_spills));
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_TRUE(first->interrupted);
    ASSERT_GT(first->queued, 0u);
    ASSERT_LT(first->queued, whole.records.size());
    c.stop_requested = nullptr;
    auto stored = queue.import_runs("key");
    ASSERT_TRUE(stored);
    auto second = run_passes(c, (*stored)[0], inputs_, plan_with(second_spills));
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_FALSE(second->interrupted);
    EXPECT_EQ(second->queued_now, whole.records.size() - first->queued);
    EXPECT_TRUE(result_of(queue).records == whole.records);
  }
}

// A spill cut short or damaged between the plan and its pass is an error naming it, never a record made up; what
// was committed before is sound, and the rerun (which writes the spill anew) queues the rest once.
TEST_F(ImportSpillTest, APassWhoseSpillIsCutShortStopsNamingItAndTheRerunQueuesTheRestOnce) {
  const RunResult whole = whole_run(false);
  omt::test::MemoryQueue queue;
  const auto planned = plan_with(true);
  const fs::path contacts = *planned.spilled_per_file[0][1];  // the events' contact pass
  fs::resize_file(contacts, fs::file_size(contacts) - 40);  // the end mark and part of the last record
  auto c = context_on(queue);
  auto failed = run_passes(c, start_in(queue), inputs_, planned);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find(contacts.string()), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find("cut short"), std::string::npos) << failed.error().message;
  auto stored = queue.import_runs("key");
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)[0].records, queue.records().size());  // the checkpoints count what is queued
  auto rerun = run_passes(c, (*stored)[0], inputs_, plan_with(true));
  ASSERT_TRUE(rerun) << rerun.error().message;
  EXPECT_TRUE(result_of(queue).records == whole.records);
}

// A spill that cannot be written is given up whole (the files written before it too) with why; the passes then
// transform again and queue the same records.
TEST_F(ImportSpillTest, ASpillThatCannotBeWrittenIsGivenUpWholeAndThePassesTransformAgain) {
  fs::create_directories(spill_dir_ / "file1-pass0");  // where the second file's products would go: not a file
  auto planned = plan_inputs(inputs_, *mapper_, 0, 8, nullptr, nullptr, 2, spill_dir_);
  ASSERT_TRUE(planned) << planned.error().message;
  EXPECT_NE(planned->spill_given_up_because.find((spill_dir_ / "file1-pass0").string()), std::string::npos)
      << planned->spill_given_up_because;
  EXPECT_TRUE(planned->spilled_per_file.empty());
  EXPECT_EQ(files_in_spill(), 1u) << "the first file's spills are removed too";
  omt::test::MemoryQueue queue;
  auto c = context_on(queue);
  ASSERT_TRUE(run_passes(c, start_in(queue), inputs_, *planned));
  EXPECT_TRUE(result_of(queue).records == whole_run(false).records);

  // The room guard: less free than it must leave, and nothing is written at all.
  RecordSpill guarded(spill_dir_, std::numeric_limits<std::uint64_t>::max());
  guarded.add(0, 0, 1, 10, 1, R"({"a":1})");
  guarded.finish_file(0, 1, 10);
  EXPECT_FALSE(guarded.active());
  EXPECT_NE(guarded.given_up_because().find("would be left free in " + spill_dir_.string()), std::string::npos)
      << guarded.given_up_because();
  EXPECT_TRUE(guarded.files().empty());
  EXPECT_EQ(files_in_spill(), 1u);
}

TEST(SpillChecksum, IsCrc32cWithTheCpuInstructionAndByTable) {
  EXPECT_EQ(spill_crc32c("123456789"), 0xE3069283u);  // CRC-32C's check value
  EXPECT_EQ(spill_crc32c("123456789", true), 0xE3069283u);
  EXPECT_EQ(spill_crc32c(""), 0u);
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes += static_cast<char>((i * 131 + 7) & 0xFF);
    ASSERT_EQ(spill_crc32c(bytes), spill_crc32c(bytes, true)) << bytes.size() << " bytes";
  }
}

// Records across many of the spill's blocks (written whole, past the page cache where the disk allows it), one
// larger than a block among them: read back as written, and the file exactly as long as what was written.
TEST_F(ImportRunTest, ASpillOfManyBlocksReadsBackWhatWasWritten) {
  const auto file = dir_ / "spill";
  std::vector<std::string> jsons;
  std::uint64_t bytes = 8 + 32;  // the magic and the end mark
  for (std::size_t i = 0; bytes < 3 * spill_block_bytes; ++i) {
    const std::size_t size = i == 100 ? spill_block_bytes + 12345 : 1000 + (i * 7919) % 3000;
    jsons.push_back("{\"n\":\"" + std::string(size, static_cast<char>('a' + i % 26)) + "\"}");
    bytes += 32 + jsons.back().size();
  }
  {
    auto writer = SpillWriter::create(file);
    ASSERT_TRUE(writer) << writer.error().message;
    for (std::size_t i = 0; i < jsons.size(); ++i) ASSERT_TRUE(writer->add(i + 1, 10 * (i + 1), 2 * i + 1, jsons[i]));
    ASSERT_TRUE(writer->close(jsons.size() + 5, 10 * jsons.size() + 50));
    EXPECT_EQ(writer->bytes(), bytes);
  }
  EXPECT_EQ(fs::file_size(file), bytes);
  auto reader = SpillReader::open(file);
  ASSERT_TRUE(reader) << reader.error().message;
  for (std::size_t i = 0; i < jsons.size(); ++i) {
    auto next = reader->next();
    ASSERT_TRUE(next) << next.error().message;
    ASSERT_TRUE(*next) << i;
    EXPECT_EQ((*next)->line, i + 1);
    EXPECT_EQ((*next)->end_offset, 10 * (i + 1));
    EXPECT_EQ((*next)->item, 2 * i + 1);
    ASSERT_EQ((*next)->json, jsons[i]) << i;
  }
  auto end = reader->next();
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(*end);
  EXPECT_EQ(reader->end().records, jsons.size());
  EXPECT_EQ(reader->end().last_line, jsons.size() + 5);
}

TEST_F(ImportRunTest, ASpillReadsBackWhatWasWrittenAndRefusesOneCutShortDamagedOrOverlong) {
  const auto file = dir_ / "spill";
  {
    auto writer = SpillWriter::create(file);
    ASSERT_TRUE(writer) << writer.error().message;
    ASSERT_TRUE(writer->add(1, 10, 1, R"({"a":1})"));
    ASSERT_TRUE(writer->add(2, 25, 3, ""));
    ASSERT_TRUE(writer->close(3, 40));
  }
  const auto read_all = [&]() -> omt::Expected<std::vector<SpilledRecord>> {
    auto reader = SpillReader::open(file);
    if (!reader) return tl::unexpected(reader.error());
    std::vector<SpilledRecord> out;
    for (;;) {
      auto next = reader->next();
      if (!next) return tl::unexpected(next.error());
      if (!*next) break;
      out.push_back(std::move(**next));
    }
    EXPECT_EQ(reader->end().records, out.size());
    EXPECT_EQ(reader->end().last_line, 3u);
    EXPECT_EQ(reader->end().last_end_offset, 40u);
    return out;
  };
  auto all = read_all();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].line, 1u);
  EXPECT_EQ((*all)[0].end_offset, 10u);
  EXPECT_EQ((*all)[0].item, 1u);
  EXPECT_EQ((*all)[0].json, R"({"a":1})");
  EXPECT_EQ((*all)[1].line, 2u);
  EXPECT_EQ((*all)[1].end_offset, 25u);
  EXPECT_EQ((*all)[1].item, 3u);
  EXPECT_EQ((*all)[1].json, "");

  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto refused = [&](const std::string& changed, const std::string& why) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << changed;
    auto r = read_all();
    ASSERT_FALSE(r) << why;
    EXPECT_NE(r.error().message.find(file.string()), std::string::npos) << why << ": " << r.error().message;
  };
  refused(bytes.substr(0, bytes.size() - 32), "no end mark (cut where a record ends)");
  refused(bytes.substr(0, bytes.size() - 36), "cut inside a record");
  refused(bytes.substr(0, 4), "cut inside the magic");
  refused(bytes + "x", "a byte past the end mark");
  std::string flipped = bytes;
  flipped[8 + 32 + 3] ^= 1;  // in the first record's JSON
  refused(flipped, "a record's byte changed");
  std::string recounted = bytes;
  recounted[bytes.size() - 24] ^= 1;  // the end mark's count
  refused(recounted, "the end mark changed");
}

// A reader of `n` events that then fails, as a truncated gzip file does.
class FailingReader final : public ItemReader {
 public:
  explicit FailingReader(std::size_t n) : n_(n) {}
  omt::Expected<std::optional<Item>> next() override {
    if (read_ == n_) return omt::fail(omt::errc::io, "truncated");
    ++read_;
    return std::optional<Item>(EventItem{SourcePlace{"f", read_, read_ * 10}, R"({"type":"page"})"});
  }
  std::uint64_t bytes_read() const override { return read_; }

 private:
  std::size_t n_;
  std::uint64_t read_ = 0;
};

TEST_F(ImportRunTest, ThePipelineHandsOutEveryItemReadBeforeAReaderErrorThenTheError) {
  FailingReader reader(1000);
  ClassifyPipeline pipeline(reader, *mapper_, 3);
  for (std::uint64_t line = 1; line <= 1000; ++line) {
    auto item = pipeline.next();
    ASSERT_TRUE(item) << "line " << line << ": " << item.error().message;
    ASSERT_TRUE(*item);
    EXPECT_EQ((*item)->at.line, line);
    ASSERT_TRUE((*item)->classified);
    EXPECT_TRUE((*item)->classified->skipped);
  }
  auto end = pipeline.next();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().message, "truncated");
}

TEST_F(ImportRunTest, ThePipelineHandsOnItemsItNeedNotTransformWithTheirPlaceAndHintOnly) {
  FailingReader reader(300);
  ItemHints hints = std::vector<ItemRun>{{1, 100}, {hint_skipped, 100}, {2, 100}};
  std::vector<std::optional<std::uint8_t>> seen;
  ClassifyPipeline pipeline(reader, *mapper_, 2, &hints, [&](const Item&, std::optional<std::uint8_t> hint) {
    seen.push_back(hint);
    return hint == 2;
  });
  for (std::uint64_t line = 1; line <= 300; ++line) {
    auto item = pipeline.next();
    ASSERT_TRUE(item && *item);
    EXPECT_EQ((*item)->at.line, line);
    EXPECT_EQ((*item)->at.end_offset, line * 10);
    const std::uint8_t expected = line <= 100 ? 1 : line <= 200 ? hint_skipped : 2;
    EXPECT_EQ((*item)->hint, expected);
    EXPECT_EQ((*item)->classified.has_value(), expected == 2) << "line " << line;
  }
  EXPECT_EQ(seen.size(), 300u);  // asked once per item, in order
  EXPECT_FALSE(pipeline.next());
}

}  // namespace
