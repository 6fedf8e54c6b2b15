// A truly full file system (a tmpfs of a few MiB: ENOSPC, SQLITE_FULL), not a simulated one: an import whose
// queue fills the disk stops naming it and, once the disk has room again, the same command continues with every
// event queued exactly once; a plan spill that fills its disk is given up and the passes transform again; and
// serve, its queue on the full disk, answers 503 with Retry-After (never 200 for an event not on disk), says why
// in /health, and recovers by itself once the disk grows, delivering every event it acknowledged; a lease the
// full disk failed leaves its records to be leased again.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "import_harness.hpp"
#include "memory_queue.hpp"
#include "omt/import/import_run.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "tmpfs_mount.hpp"

namespace omt::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ometria::RecordType;

const std::string kKey = "full-disk-key";
const std::string kWriteKey = "wk-full-disk";
constexpr std::uint64_t kFullDiskMib = 4;
constexpr std::uint64_t kRoomMib = 64;

// A track event of about 3.3 KB whose properties (kept in the custom_event) do not compress: "e<n>" as its id.
json track_event(std::size_t n, std::mt19937_64& random) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string blob(3200, '0');
  for (auto& c : blob) c = hex[random() & 15];
  return {{"type", "track"},
          {"event", "Viewed"},
          {"messageId", "e" + std::to_string(n)},
          {"userId", "u" + std::to_string(n)},
          {"properties", {{"blob", blob}}},
          {"context", {{"traits", {{"email", "user" + std::to_string(n) + "@example.com"}}}}},
          {"timestamp", "2024-05-01T10:00:00.000Z"}};
}

void write_track_events(const fs::path& file, std::size_t n) {
  std::mt19937_64 random(42);
  std::ofstream out(file);
  for (std::size_t i = 0; i < n; ++i) out << track_event(i, random).dump() << "\n";
}

// Every id once, and each of e0..e<n-1>.
void expect_each_event_once(const std::vector<std::string>& ids, std::size_t n) {
  std::map<std::string, int> seen;
  for (const auto& id : ids) ++seen[id];
  for (const auto& [id, times] : seen) EXPECT_EQ(times, 1) << "queued " << times << " times: " << id;
  for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(seen.count("e" + std::to_string(i))) << "skipped: e" << i;
  EXPECT_EQ(ids.size(), n);
}

// The real binary with its stdout folded into the stderr the child process reads, so that one bounded wait sees
// all it says.
struct Outcome {
  std::optional<int> exit_code;
  std::string output;
};
Outcome run_binary(const std::vector<std::string>& args, std::chrono::seconds bound = std::chrono::seconds(60)) {
  std::vector<std::string> shell = {"-c", "exec \"$0\" \"$@\" 1>&2", OMT_BINARY};
  shell.insert(shell.end(), args.begin(), args.end());
  ChildProcess child("/bin/sh", shell);
  Outcome outcome;
  outcome.exit_code = child.wait_exit(bound);
  outcome.output = child.output();
  return outcome;
}

// ---- import: the queue fills the disk ----

constexpr std::size_t kImportEvents = 3000;  // about 10 MB of records: the 4 MiB disk fills part way

TEST(ImportOnAFullDisk, StopsNamingTheFullDiskAndTheSameCommandContinuesExactlyOnceTheDiskHasRoom) {
  testing::TempDir dir;
  const testing::TmpfsMount disk(kFullDiskMib);
  const fs::path db = disk.path() / "queue.db";  // the plan's spill goes beside it, on the same disk
  const std::string config = dir.file("config.json");
  write_import_config(config, db, kKey, "normal");
  const std::string input = dir.file("events.jsonl");
  write_track_events(input, kImportEvents);
  const std::vector<std::string> args = {"import", input, "--source", "shop", "--config", config, "--quiet",
                                         "--accept", "old-custom-events"};

  const auto full = run_binary(args);
  ASSERT_TRUE(full.exit_code) << "the import hung on the full disk:\n" << full.output;
  EXPECT_EQ(*full.exit_code, 1) << full.output;
  EXPECT_NE(full.output.find("Starting import run 1"), std::string::npos) << full.output;
  // The operator reads which file could not be written, that the disk is full, and what to do.
  EXPECT_NE(full.output.find("cannot write " + db.string() + " (or its -wal or -shm file): the disk is full"),
            std::string::npos)
      << full.output;
  EXPECT_NE(full.output.find("run again to continue"), std::string::npos) << full.output;
  EXPECT_EQ(full.output.find("Imported:"), std::string::npos) << full.output;
  // A disk this small never holds the spill: its guard gives it up before the first byte.
  EXPECT_NE(full.output.find("the plan's records are not kept for the passes ("), std::string::npos) << full.output;
  EXPECT_LT(disk.available(), std::uint64_t{1} << 20) << "the disk did not fill: the test proves less than it says";

  // Run again before there is room: it stops the same way, and what it found committed stays as it was.
  const auto still_full = run_binary(args);
  ASSERT_TRUE(still_full.exit_code) << still_full.output;
  EXPECT_EQ(*still_full.exit_code, 1) << still_full.output;
  EXPECT_NE(still_full.output.find("the disk is full"), std::string::npos) << still_full.output;

  // Room again (what an operator does: free space), then what the failed runs left, then the same command.
  disk.grow(kRoomMib);
  EXPECT_EQ(query_queue_file(db, "PRAGMA integrity_check"), "ok");
  const auto committed = committed_records(db);
  EXPECT_GT(committed, 0) << "nothing was committed before the disk filled: the test proves less than it says";
  EXPECT_LT(committed, static_cast<std::int64_t>(kImportEvents));
  EXPECT_EQ(queued_record_ids(db, kKey, RecordType::custom_event).size(), static_cast<std::size_t>(committed))
      << "what the checkpoints count is what is queued";

  const auto rerun = run_binary(args);
  ASSERT_TRUE(rerun.exit_code) << rerun.output;
  ASSERT_EQ(*rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("Resuming import run 1"), std::string::npos) << rerun.output;
  EXPECT_NE(rerun.output.find("Imported: 3,000 of 3,000 records"), std::string::npos) << rerun.output;
  EXPECT_EQ(committed_records(db), static_cast<std::int64_t>(kImportEvents));
  EXPECT_EQ(query_queue_file(db, "SELECT state FROM import_runs"), "finished");
  expect_each_event_once(queued_record_ids(db, kKey, RecordType::custom_event), kImportEvents);
}

// ---- import: the plan's spill fills its disk ----

// The plan pass in process, its spill on a 1 MiB disk whose guard the test lowers to nothing (the binary's 1 GiB
// guard gives up before the first byte on any disk this small: the test above): the spill meets ENOSPC, is given
// up whole with why, its files removed (their room back), and the passes transform again: every event once.
TEST(ImportOnAFullDisk, ASpillThatFillsItsDiskIsGivenUpAndThePassesQueueEveryEventOnce) {
  testing::TempDir dir;
  const testing::TmpfsMount disk(1);
  const fs::path spill = disk.path() / "spill";
  fs::create_directories(spill);
  const std::size_t events = 1000;  // about 3.3 MB of records for the spill
  write_track_events(dir.file("events.jsonl"), events);
  auto inputs = import::resolve_inputs({dir.file("events.jsonl")}, std::nullopt);
  ASSERT_TRUE(inputs) << inputs.error().message;
  auto transformer = ometria::Transformer::load(fs::path(OMT_SOURCE_DIR) / "mappings");
  ASSERT_TRUE(transformer) << transformer.error().message;
  config::SourceConfig source;
  source.name = "shop";
  source.destination.api_key = kKey;
  import::EventMapper mapper(*transformer, source);

  auto planned = import::plan_inputs(*inputs, mapper, 0, 8, nullptr, nullptr, 2, spill, /*spill_min_free=*/0);
  ASSERT_TRUE(planned) << planned.error().message;
  EXPECT_NE(planned->spill_given_up_because.find(spill.string()), std::string::npos) << planned->spill_given_up_because;
  EXPECT_NE(planned->spill_given_up_because.find(std::strerror(ENOSPC)), std::string::npos)
      << planned->spill_given_up_because;
  EXPECT_TRUE(planned->spilled_per_file.empty());
  EXPECT_TRUE(fs::is_empty(spill)) << "a spill given up leaves no file behind";

  MemoryQueue queue;
  auto run = queue.start_import_run({"run", "shop", "{}", {(*inputs)[0].identity}});
  ASSERT_TRUE(run) << run.error().message;
  import::ImportContext context;
  context.queue = &queue;
  context.mapper = &mapper;
  context.api_key = kKey;
  auto totals = import::run_passes(context, *run, *inputs, *planned);
  ASSERT_TRUE(totals) << totals.error().message;
  EXPECT_EQ(totals->queued, events);
  std::vector<std::string> ids;
  for (const auto& r : queue.records()) ids.push_back(json::parse(r.json)["id"].get<std::string>());
  expect_each_event_once(ids, events);
}

// ---- the SQLite queue: a lease in a transaction the full disk failed ----

// Made certain, not left to timing: the writer thread is held (an operation's callback waits) while a lease and
// then a write the full disk cannot take queue up, so both go into one transaction, which fails as a whole. The
// lease is told the error and never had the records: once there is room they are leased at once, not after the
// lease it never got would have run out.
TEST(QueueOnAFullDisk, ALeaseWhoseTransactionTheFullDiskFailedLeavesItsRecordsToBeLeasedAgain) {
  const testing::TmpfsMount disk(1);
  queue::SqliteQueueOptions options;
  options.path = disk.path() / "queue.db";
  options.durability = queue::Durability::process_crash;
  auto q = queue::SqliteQueue::open(options);
  ASSERT_TRUE(q) << q.error().message;
  std::vector<queue::NewRecord> contacts;
  for (int i = 0; i < 10; ++i) contacts.push_back({kKey, RecordType::contact, R"({"id":"c)" + std::to_string(i) + R"("})"});
  ASSERT_TRUE((*q)->enqueue(contacts).get());
  std::mt19937_64 random(3);
  const auto events = [&](std::size_t n) {
    std::vector<queue::NewRecord> records;
    for (std::size_t i = 0; i < n; ++i) records.push_back({kKey, RecordType::custom_event, track_event(i, random).dump()});
    return records;
  };
  bool full = false;
  for (int i = 0; i < 100 && !full; ++i) full = !(*q)->enqueue(events(100)).get();
  ASSERT_TRUE(full) << "the disk never filled";

  std::promise<void> writer_held, let_go;
  std::shared_future<void> released = let_go.get_future().share();
  (*q)->give_back({}, [&writer_held, released](Expected<std::size_t>) {
    writer_held.set_value();
    released.wait();
  });
  writer_held.get_future().wait();
  std::promise<Expected<queue::Leased>> leased;
  (*q)->lease(kKey, RecordType::contact, queue::Lane::live, 100, std::chrono::minutes(5),
              [&leased](Expected<queue::Leased> r) { leased.set_value(std::move(r)); });
  std::promise<bool> stored;
  (*q)->enqueue(events(100), [&stored](Expected<std::vector<queue::RecordId>> r) { stored.set_value(r.has_value()); });
  let_go.set_value();
  const auto first = leased.get_future().get();
  EXPECT_FALSE(stored.get_future().get());
  ASSERT_FALSE(first) << "the lease and the write did not share a failed transaction: the test proves less than it says";

  disk.grow(kRoomMib);
  const auto again = (*q)->lease(kKey, RecordType::contact, queue::Lane::live, 100, std::chrono::minutes(5));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->records.size(), contacts.size()) << "records held by a lease that failed";
}

// ---- serve: live ingest on a full disk ----

TEST(ServeOnAFullDisk, Refuses503WithRetryAfterSaysWhyInHealthAndRecoversByItselfDeliveringEveryAcknowledgedEvent) {
  testing::TempDir dir;
  const testing::TmpfsMount disk(kFullDiskMib);
  const fs::path db = disk.path() / "queue.db";
  testing::FakeOmetriaOptions fake_options;
  fake_options.keys = {kKey};
  testing::FakeOmetria fake(std::move(fake_options));
  // Nothing leaves the queue while it fills: the pushes on the wire wait for their answer.
  fake.hold_answers();
  const json config = {
      {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
      {"queue", {{"path", db.string()}, {"durability", "normal"}}},
      {"ometria", {{"endpoint", fake.url()}, {"allow_plain_http", true}}},
      {"delivery",
       {{"requests_per_second", 0},
        {"linger", "20ms"},
        {"retry", {{"base_delay", "20ms"}, {"max_delay", "200ms"}, {"auth_probe_interval", "10m"}}}}},
      {"sources", json::array({{{"name", "web"}, {"write_key", kWriteKey}, {"api_key", kKey}}})},
  };
  const std::string config_path = dir.file("config.json");
  std::ofstream(config_path) << config.dump(2);
  ChildProcess serve(OMT_BINARY, {"serve", "--config", config_path});
  const auto listening = serve.wait_for_line("listening on", std::chrono::seconds(10));
  ASSERT_TRUE(listening) << serve.output();
  HttpClient client("127.0.0.1", port_from_listening_line(*listening));
  const Headers headers = {{"Authorization", basic_auth(kWriteKey)}, {"Content-Type", "application/json"}};

  // Batches of ten events until the disk is full; a 200 means every event of it is on disk.
  std::mt19937_64 random(7);
  std::size_t next_event = 0;
  std::set<std::string> acknowledged;
  const auto post_batch = [&] {
    json batch = json::array();
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i, ++next_event) {
      batch.push_back(track_event(next_event, random));
      ids.push_back("e" + std::to_string(next_event));
    }
    auto answer = client.post("/v1/batch", json{{"batch", batch}}.dump(), headers);
    if (answer.status == 200) acknowledged.insert(ids.begin(), ids.end());
    return answer;
  };
  std::size_t refused_in_a_row = 0, refused = 0;
  for (int request = 0; request < 1000 && refused_in_a_row < 5; ++request) {
    const auto answer = post_batch();
    if (answer.status == 200) {
      refused_in_a_row = 0;
      continue;
    }
    ++refused;
    ++refused_in_a_row;
    EXPECT_EQ(answer.status, 503) << answer.body;
    EXPECT_FALSE(answer.header("Retry-After").empty()) << "a refusal the client can retry says when";
    EXPECT_NE(answer.body.find("The queue could not store the events: retry later"), std::string::npos) << answer.body;
  }
  ASSERT_EQ(refused_in_a_row, 5u) << "the disk never filled: the test proves less than it says";
  ASSERT_FALSE(acknowledged.empty());
  EXPECT_LT(disk.available(), std::uint64_t{1} << 20);

  // /health says why while the queue cannot write: its path and the full disk. Asked right after a refused batch:
  // a transaction that writes nothing (a lease) still commits on a full disk and counts as the database back
  // until the next write fails (group_commit.cpp), so a single look could land in between.
  HttpResponse unhealthy;
  EXPECT_TRUE(eventually([&] {
    if (post_batch().status == 200) return false;
    unhealthy = client.get("/health");
    return unhealthy.status == 503;
  })) << unhealthy.body;
  EXPECT_NE(unhealthy.body.find("cannot write " + db.string()), std::string::npos) << unhealthy.body;
  EXPECT_NE(unhealthy.body.find("the disk is full"), std::string::npos) << unhealthy.body;

  // Ometria takes the pushes that waited, while their acks still cannot be written: they are pushed again later
  // (at least once), never lost.
  const auto before_release = fake.record_count();
  fake.release_answers();
  ASSERT_TRUE(fake.wait_for_records(before_release + 1, kWait)) << serve.output();

  // Room again: no restart; the next batch is stored, and every acknowledged event reaches Ometria.
  disk.grow(kRoomMib);
  ASSERT_TRUE(eventually([&] { return post_batch().status == 200; })) << serve.output();
  const bool all_arrived = wait_for_distinct_ids(fake, acknowledged.size());
  const auto delivered = distinct_ids(fake.records());
  ASSERT_TRUE(all_arrived) << delivered.size() << " of " << acknowledged.size() << " acknowledged events arrived\n" << serve.output();
  for (const auto& id : acknowledged) EXPECT_TRUE(delivered.count(id)) << "acknowledged but never delivered: " << id;
  // Healthy again, and every record acked: nothing stays leased or queued because an ack once failed.
  ASSERT_TRUE(eventually([&] {
    const auto health = client.get("/health");
    return health.status == 200 && health.body.find("depth 0 of") != std::string::npos;
  })) << client.get("/health").body;

  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(std::chrono::seconds(10)), 0) << serve.output();
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace omt::test
