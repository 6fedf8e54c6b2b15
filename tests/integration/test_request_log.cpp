// The request log: the SQLite store against a real database (every field kept, bounded with the oldest dropped,
// paged in either order, selected by source, time and status, written in batches through the group commit, added
// to a version 3 database on open), delivery logging every push's outcome (with the fake sender and the in-memory
// queue, and once over SQLite), and a failed log write that is counted and logged but changes nothing delivered.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery_harness.hpp"
#include "log_capture.hpp"
#include "memory_queue.hpp"
#include "omt/delivery/fake_sender.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/obs/request_log_events.hpp"
#include "omt/queue/request_log.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "omt/service/delivery_service.hpp"
#include "request_log_entries.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using delivery::FakeSender;
using delivery::NetworkError;
using ometria::RecordType;
using queue::LoggedRequest;
using queue::RequestLogEntry;
using queue::RequestLogSelection;

RequestLogEntry entry(int n, std::string source = "web", int status = 202) { return logged_push(n, std::move(source), status); }

std::vector<std::uint32_t> records_of(const std::vector<LoggedRequest>& logged) {
  std::vector<std::uint32_t> records;
  for (const auto& r : logged) records.push_back(r.entry.records);
  return records;
}

// ---- the SQLite store ----

class RequestLogStoreTest : public ::testing::Test {
 protected:
  RequestLogStoreTest() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-request-log-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~RequestLogStoreTest() override {
    queue_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path db_path() const { return dir_ / "queue.db"; }
  queue::SqliteQueue& open(std::uint64_t max_request_log = 100'000, std::size_t max_pending = 10'000) {
    queue_.reset();
    queue::SqliteQueueOptions o;
    o.path = db_path();
    o.durability = queue::Durability::process_crash;
    o.max_request_log = max_request_log;
    o.max_pending_request_log = max_pending;
    auto q = queue::SqliteQueue::open(std::move(o));
    if (!q) throw std::runtime_error(q.error().message);
    queue_ = std::move(*q);
    return *queue_;
  }
  // Logs the entries and waits until the writer has stored them (or says why not).
  std::optional<Error> log(std::vector<RequestLogEntry> entries) {
    auto done = std::make_shared<std::promise<std::optional<Error>>>();
    auto told = done->get_future();
    queue_->log_pushes(std::move(entries), [done](const Error* err) {
      done->set_value(err ? std::optional<Error>(*err) : std::nullopt);
    });
    return told.get();
  }
  std::vector<LoggedRequest> listed(const RequestLogSelection& which = {}) {
    auto logged = queue_->logged_requests(which);
    EXPECT_TRUE(logged) << logged.error().message;
    return logged ? *logged : std::vector<LoggedRequest>{};
  }
  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &message), SQLITE_OK) << (message ? message : "");
    sqlite3_free(message);
    sqlite3_close(db);
  }
  std::int64_t user_version() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    const std::int64_t version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
  }

  std::filesystem::path dir_;
  std::unique_ptr<queue::SqliteQueue> queue_;
};

TEST_F(RequestLogStoreTest, ALoggedPushKeepsEveryFieldAndOutlivesTheProcess) {
  open();
  ASSERT_NE(queue_->request_log(), nullptr);
  const RequestLogEntry delivered = entry(3, "web, app", 202);
  RequestLogEntry timed_out = entry(4, "", 0);
  ASSERT_FALSE(log({delivered, timed_out}));
  open();  // reopened: the entries were written to the file
  const auto logged = listed();
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[0].entry, timed_out);  // newest first
  EXPECT_EQ(logged[1].entry, delivered);
  EXPECT_GT(logged[0].id, logged[1].id);
  EXPECT_EQ(logged[0].entry.failure, "timeout");
  EXPECT_FALSE(logged[0].entry.request_id);
  EXPECT_FALSE(logged[0].entry.accepted);
  EXPECT_EQ(logged[1].entry.lane, queue::Lane::backfill);
}

TEST_F(RequestLogStoreTest, KeepsOnlyItsBoundTheOldestDroppedFirst) {
  open(/*max_request_log=*/3);
  ASSERT_FALSE(log({entry(1), entry(2)}));
  ASSERT_FALSE(log({entry(3), entry(4), entry(5)}));
  EXPECT_EQ(records_of(listed()), (std::vector<std::uint32_t>{5, 4, 3}));
  ASSERT_FALSE(log({entry(6)}));
  EXPECT_EQ(records_of(listed()), (std::vector<std::uint32_t>{6, 5, 4}));
  open(/*max_request_log=*/2);  // a smaller bound applies at the next write
  EXPECT_EQ(listed().size(), 3u);
  ASSERT_FALSE(log({entry(7)}));
  EXPECT_EQ(records_of(listed()), (std::vector<std::uint32_t>{7, 6}));
}

TEST_F(RequestLogStoreTest, PagesThroughNewestOrOldestFirst) {
  open();
  std::vector<RequestLogEntry> entries;
  for (int n = 1; n <= 7; ++n) entries.push_back(entry(n));
  ASSERT_FALSE(log(entries));
  for (const bool newest_first : {true, false}) {
    RequestLogSelection which;
    which.newest_first = newest_first;
    which.limit = 3;
    std::vector<std::uint32_t> seen;
    std::vector<std::size_t> pages;
    for (;;) {
      const auto page = listed(which);
      if (page.empty()) break;
      pages.push_back(page.size());
      for (const auto& r : page) seen.push_back(r.entry.records);
      which.after_id = page.back().id;
    }
    EXPECT_EQ(pages, (std::vector<std::size_t>{3, 3, 1}));
    EXPECT_EQ(seen, newest_first ? (std::vector<std::uint32_t>{7, 6, 5, 4, 3, 2, 1})
                                 : (std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6, 7}));
  }
}

TEST_F(RequestLogStoreTest, SelectsBySourceTimeAndStatus) {
  open();
  ASSERT_FALSE(log({entry(1, "web", 202), entry(2, "web, app", 429), entry(3, "app", 503), entry(4, "", 0),
                    entry(5, "apps", 400), entry(6, "web", 204)}));
  const auto with = [&](auto set) {
    RequestLogSelection which;
    which.newest_first = false;
    set(which);
    return records_of(listed(which));
  };
  EXPECT_EQ(with([](auto& w) { w.source = "app"; }), (std::vector<std::uint32_t>{2, 3}));  // one of its names; not "apps"
  EXPECT_EQ(with([](auto& w) { w.source = "web"; }), (std::vector<std::uint32_t>{1, 2, 6}));
  EXPECT_EQ(with([](auto& w) { w.source = "we"; }), (std::vector<std::uint32_t>{}));
  EXPECT_EQ(with([](auto& w) { w.since = entry(5).at; }), (std::vector<std::uint32_t>{5, 6}));
  EXPECT_EQ(with([](auto& w) { w.status_from = w.status_to = 429; }), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(with([](auto& w) { w.status_from = 200, w.status_to = 299; }), (std::vector<std::uint32_t>{1, 6}));
  EXPECT_EQ(with([](auto& w) { w.status_from = w.status_to = 0; }), (std::vector<std::uint32_t>{4}));
  EXPECT_EQ(with([](auto& w) {
              w.source = "web";
              w.status_from = 400, w.status_to = 499;
            }),
            (std::vector<std::uint32_t>{2}));
}

TEST_F(RequestLogStoreTest, PushesLoggedTogetherAreWrittenTogether) {
  open();
  const auto commits_before = queue_->commits();
  constexpr int kPushes = 2000;
  std::atomic<int> stored{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < kPushes / 4; ++n) {
        queue_->log_pushes({entry(t * 1000 + n)}, [&](const Error* err) { ++(err ? failed : stored); });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(eventually([&] { return stored + failed == kPushes; }));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(listed().size(), std::size_t{kPushes});
  // Each transaction takes every entry that waited: far fewer commits than pushes.
  EXPECT_LT(queue_->commits() - commits_before, std::uint64_t{kPushes / 4});
}

TEST_F(RequestLogStoreTest, MoreEntriesThanMayWaitAreRefusedAtOnceNotQueued) {
  open(100'000, /*max_pending=*/2);
  std::optional<Error> refused;
  bool called = false;
  queue_->log_pushes({entry(1), entry(2), entry(3)}, [&](const Error* err) {
    called = true;
    if (err) refused = *err;
  });
  ASSERT_TRUE(called);  // on this thread, before log_pushes returned
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, errc::unavailable);
  EXPECT_NE(refused->message.find("too many pushes waiting to be logged"), std::string::npos) << refused->message;
  EXPECT_FALSE(log({entry(4)}));
  EXPECT_EQ(records_of(listed()), (std::vector<std::uint32_t>{4}));
}

TEST_F(RequestLogStoreTest, AVersion3DatabaseGainsTheRequestLogAndKeepsItsRecords) {
  open();
  ASSERT_TRUE(queue_->enqueue({make_record("k", RecordType::contact, 1), make_record("k", RecordType::contact, 2)}).get());
  queue_.reset();
  sql("DROP TABLE request_log; PRAGMA user_version = 3");  // version 3 as it was: no request log
  open();
  EXPECT_EQ(user_version(), 6);
  EXPECT_EQ(queue_->depth(), 2u);
  EXPECT_TRUE(listed().empty());
  ASSERT_FALSE(log({entry(1)}));
  EXPECT_EQ(listed().size(), 1u);
}

// ---- the events of the request log ----

TEST(RequestLogEvents, AFailedWriteIsCountedAndLoggedAsAWarning) {
  obs::Registry metrics;
  obs::RequestLogEvents events(metrics);
  EXPECT_NE(metrics.render_prometheus().find("\nomt_request_log_write_failures_total 0\n"), std::string::npos);
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    events.emit(obs::RequestLogWriteFailed{3, "queue: log a push: disk I/O error"});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].ends_with(" warning delivery: 3 pushes could not be written to the request log (what became "
                                   "of them stands): queue: log a push: disk I/O error"))
        << lines[0];
  }
  {
    LogCapture capture({"info", obs::LogFormat::json, false});
    events.emit(obs::RequestLogWriteFailed{1, "closed"});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    const auto line = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(line["event"], "request_log_write_failed");
    EXPECT_EQ(line["pushes"], 1);
    EXPECT_EQ(line["error"], "closed");
  }
  EXPECT_NE(metrics.render_prometheus().find("\nomt_request_log_write_failures_total 4\n"), std::string::npos);
}

// ---- delivery logs every push ----

const std::string kKey = "request-log-key";

service::DeliveryOptions logging_options() {
  auto o = fast_options("https://ometria.invalid/v2/push");
  o.key_sources = {{kKey, "web, app"}};
  return o;
}

class DeliveryRequestLog : public ::testing::Test {
 protected:
  void start(queue::Queue& queue, service::DeliveryOptions options = logging_options()) {
    service_.emplace(io_, queue, sender_, std::move(options), metrics_);
    thread_ = std::thread([this] { io_.run(); });
    service_->start();
  }
  void TearDown() override {
    if (service_) service_->stop(2s);
    service_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  void enqueue(queue::Queue& queue, RecordType type, int n, queue::Lane lane = queue::Lane::live) {
    std::vector<queue::NewRecord> records;
    for (int i = 0; i < n; ++i) {
      records.push_back(make_record(kKey, type, i));
      records.back().lane = lane;
    }
    ASSERT_TRUE(queue.enqueue(std::move(records)).get());
  }
  std::vector<LoggedRequest> oldest_first(queue::RequestLog& log) {
    RequestLogSelection which;
    which.newest_first = false;
    auto logged = log.logged_requests(which);
    EXPECT_TRUE(logged) << logged.error().message;
    return logged ? *logged : std::vector<LoggedRequest>{};
  }
  std::uint64_t write_failures() {
    const std::string text = metrics_.render_prometheus();
    const std::string name = "\nomt_request_log_write_failures_total ";  // the sample, not its # HELP line
    const auto at = text.find(name);
    return at == std::string::npos ? ~std::uint64_t{0} : std::stoull(text.substr(at + name.size()));
  }

  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{io_.get_executor()};
  MemoryQueue memory_;
  FakeSender sender_;
  obs::Registry metrics_;
  std::optional<service::DeliveryService> service_;
  std::thread thread_;
};

TEST_F(DeliveryRequestLog, EveryPushIsLoggedWhateverBecameOfIt) {
  sender_.script(FakeSender::status(503));
  sender_.fail_call(2, NetworkError::timeout);
  sender_.on_call(3, FakeSender::status(429, "0"));
  enqueue(memory_, RecordType::contact, 2);
  start(memory_);
  ASSERT_TRUE(eventually([&] { return memory_.depth() == 0 && oldest_first(memory_).size() == 4; }));
  const auto logged = oldest_first(memory_);
  ASSERT_EQ(logged.size(), 4u);  // 503, timeout, 429, then the default 202
  const std::vector<int> statuses = {logged[0].entry.status, logged[1].entry.status, logged[2].entry.status,
                                     logged[3].entry.status};
  EXPECT_EQ(statuses, (std::vector<int>{503, 0, 429, 202}));
  for (const auto& r : logged) {
    EXPECT_EQ(r.entry.source, "web, app");
    EXPECT_EQ(r.entry.key_fingerprint, obs::key_fingerprint(kKey));
    EXPECT_EQ(r.entry.type, RecordType::contact);
    EXPECT_EQ(r.entry.lane, queue::Lane::live);
    EXPECT_EQ(r.entry.records, 2u);
    EXPECT_GE(r.entry.duration_ms, 0);
    EXPECT_GT(r.entry.at, 1'700'000'000'000);
  }
  EXPECT_EQ(logged[1].entry.failure, "timeout");
  EXPECT_TRUE(logged[0].entry.failure.empty());
  EXPECT_FALSE(logged[0].entry.request_id);
  const auto& delivered = logged[3].entry;
  EXPECT_EQ(delivered.request_id, "fake");  // Ometria's receipt
  EXPECT_EQ(delivered.accepted, 2);
  EXPECT_EQ(delivered.rejected, 0);
  EXPECT_EQ(write_failures(), 0u);
}

TEST_F(DeliveryRequestLog, RefusedPayloadsAndRefusedKeysAreLoggedToo) {
  sender_.script(FakeSender::status(400));
  sender_.script(FakeSender::status(401));
  enqueue(memory_, RecordType::order, 1);
  start(memory_);
  ASSERT_TRUE(eventually([&] { return oldest_first(memory_).size() == 1; }));  // the 400: dead-lettered
  enqueue(memory_, RecordType::contact, 3);
  // The 401 holds the key; the probe after hold_probe_interval gets the default 202.
  ASSERT_TRUE(eventually([&] { return memory_.depth() == 0 && oldest_first(memory_).size() == 3; }));
  const auto logged = oldest_first(memory_);
  ASSERT_EQ(logged.size(), 3u);
  EXPECT_EQ(logged[0].entry.status, 400);
  EXPECT_EQ(logged[0].entry.type, RecordType::order);
  EXPECT_EQ(logged[1].entry.status, 401);
  EXPECT_EQ(logged[2].entry.status, 202);
  EXPECT_EQ(logged[2].entry.records, 3u);
}

TEST_F(DeliveryRequestLog, ABackfillPushIsLoggedInItsLane) {
  enqueue(memory_, RecordType::contact, 2, queue::Lane::backfill);
  auto options = logging_options();
  options.key_sources.clear();  // a key no source has: logged without a source
  start(memory_, options);
  ASSERT_TRUE(eventually([&] { return oldest_first(memory_).size() == 1; }));
  const auto logged = oldest_first(memory_);
  EXPECT_EQ(logged[0].entry.lane, queue::Lane::backfill);
  EXPECT_EQ(logged[0].entry.source, "");
}

TEST_F(DeliveryRequestLog, AFailedLogWriteIsCountedAndLoggedAndTheRecordsAreStillDelivered) {
  memory_.fail_log_writes(true);
  enqueue(memory_, RecordType::contact, 5);
  LogCapture capture({"info", obs::LogFormat::text, false});
  start(memory_);
  // The delivered counter moves when the push is answered, the ack a moment later: wait for both.
  ASSERT_TRUE(eventually([&] { return service_->counters().records_delivered == 5 && memory_.acked() == 5; }));
  EXPECT_EQ(memory_.depth(), 0u);
  EXPECT_EQ(service_->counters().records_retried, 0u);
  EXPECT_EQ(write_failures(), 1u);
  service_->stop(2s);
  bool told = false;
  for (const auto& line : capture.lines()) {
    if (line.find("1 push could not be written to the request log (what became of it stands): queue: log a push: "
                  "disk I/O error (scripted)") != std::string::npos)
      told = true;
  }
  EXPECT_TRUE(told);
  EXPECT_TRUE(oldest_first(memory_).empty());
}

TEST_F(DeliveryRequestLog, PushesAreLoggedInTheSqliteQueue) {
  std::string pattern = (std::filesystem::temp_directory_path() / "omt-request-log-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path dir = pattern;
  {
    auto sqlite = open_queue((dir / "queue.db").string());
    sender_.script(FakeSender::status(500));
    enqueue(*sqlite, RecordType::custom_event, 3);
    start(*sqlite);
    ASSERT_TRUE(eventually([&] { return sqlite->depth() == 0 && oldest_first(*sqlite).size() == 2; }));
    const auto logged = oldest_first(*sqlite);
    EXPECT_EQ(logged[0].entry.status, 500);
    EXPECT_EQ(logged[1].entry.status, 202);
    EXPECT_EQ(logged[1].entry.type, RecordType::custom_event);
    EXPECT_EQ(logged[1].entry.records, 3u);
    EXPECT_EQ(logged[1].entry.source, "web, app");
    TearDown();  // the engine stops before the queue closes
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace omt::test
