// The SQLite queue's rejected-events store against a real database in a temporary directory: stored with the
// records of the same request in one transaction, bounded (oldest dropped first, counted), selected by time and
// source, and settled by a replay (enqueued and removed, or the reason updated; never one event twice).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "omt/queue/sqlite_queue.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::IngestWrite;
using omt::queue::NewRecord;
using omt::queue::NewRejectedEvent;
using omt::queue::RecordType;
using omt::queue::RejectedEventOutcome;
using omt::queue::RejectedEventSelection;
using omt::queue::SqliteQueue;
using omt::queue::SqliteQueueOptions;

NewRejectedEvent rejected(int n, const std::string& source = "web") {
  return NewRejectedEvent{source, "/v1/batch", "Missing required value " + std::to_string(n),
                          R"({"type":"identify","userId":"u)" + std::to_string(n) + "\"}"};
}

NewRecord contact(int n) {
  return NewRecord{"k", RecordType::contact, R"({"@type":"contact","id":"c)" + std::to_string(n) + "\"}"};
}

class RejectedEventsTest : public ::testing::Test {
 protected:
  RejectedEventsTest() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-rejected-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~RejectedEventsTest() override {
    queue_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SqliteQueue& open(std::uint64_t max_rejected_events = 100'000) {
    queue_.reset();
    SqliteQueueOptions o;
    o.path = dir_ / "queue.db";
    o.durability = omt::queue::Durability::process_crash;
    o.max_rejected_events = max_rejected_events;
    o.clock = [this] { return now_.load(); };
    auto q = SqliteQueue::open(std::move(o));
    if (!q) throw std::runtime_error(q.error().message);
    queue_ = std::move(*q);
    return *queue_;
  }
  omt::queue::IngestStored store(IngestWrite write) {
    auto stored = queue_->store(std::move(write)).get();
    EXPECT_TRUE(stored) << stored.error().message;
    return stored ? *stored : omt::queue::IngestStored{};
  }
  std::vector<omt::queue::RejectedEvent> listed(RejectedEventSelection which = {}) {
    auto events = queue_->rejected_events(which);
    EXPECT_TRUE(events) << events.error().message;
    return events ? *events : std::vector<omt::queue::RejectedEvent>{};
  }
  static std::vector<std::string> reasons(const std::vector<omt::queue::RejectedEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.event.reason);
    return out;
  }

  std::filesystem::path dir_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
  std::unique_ptr<SqliteQueue> queue_;
};

TEST_F(RejectedEventsTest, StoredTogetherWithTheRequestsRecordsAndDurable) {
  auto& q = open();
  const auto stored = store({{contact(1), contact(2)}, {rejected(1), rejected(2, "app")}});
  EXPECT_EQ(stored.records.size(), 2u);
  EXPECT_EQ(stored.rejected_dropped, 0u);
  EXPECT_EQ(q.depth(), 2u);  // rejected events are not records waiting

  open();  // what the answer promised is in the file
  const auto events = listed();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.source, "web");
  EXPECT_EQ(events[0].event.route, "/v1/batch");
  EXPECT_EQ(events[0].event.reason, "Missing required value 1");
  EXPECT_EQ(events[0].event.event, R"({"type":"identify","userId":"u1"})");
  EXPECT_EQ(events[0].rejected_at, 1'700'000'000'000);
  EXPECT_EQ(events[1].event.source, "app");
  EXPECT_LT(events[0].id, events[1].id);
  auto stats = queue_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 2u);
  EXPECT_EQ(stats->rejected_events, 2u);

  // Only rejected events: stored all the same.
  EXPECT_TRUE(store({{}, {rejected(3)}}).records.empty());
  EXPECT_EQ(listed().size(), 3u);
}

TEST_F(RejectedEventsTest, BoundedTheOldestAreDroppedFirstAndCounted) {
  open(/*max_rejected_events=*/3);
  EXPECT_EQ(store({{}, {rejected(1), rejected(2)}}).rejected_dropped, 0u);
  EXPECT_EQ(store({{}, {rejected(3)}}).rejected_dropped, 0u);
  EXPECT_EQ(store({{contact(1)}, {rejected(4), rejected(5)}}).rejected_dropped, 2u);
  EXPECT_EQ(reasons(listed()), (std::vector<std::string>{"Missing required value 3", "Missing required value 4",
                                                         "Missing required value 5"}));
  // A single request with more than the bound keeps its newest.
  EXPECT_EQ(store({{}, {rejected(6), rejected(7), rejected(8), rejected(9)}}).rejected_dropped, 4u);
  EXPECT_EQ(reasons(listed()), (std::vector<std::string>{"Missing required value 7", "Missing required value 8",
                                                         "Missing required value 9"}));
  EXPECT_EQ(queue_->depth(), 1u);  // the records of the request are never dropped

  // With gaps in the ids (some replayed), the bound still counts events, not ids.
  auto events = listed();
  auto settled = queue_->settle_rejected_events({RejectedEventOutcome{events[1].id, contact(2), std::nullopt}});
  ASSERT_TRUE(settled);
  EXPECT_EQ(store({{}, {rejected(10)}}).rejected_dropped, 0u);
  EXPECT_EQ(store({{}, {rejected(11)}}).rejected_dropped, 1u);
  EXPECT_EQ(reasons(listed()), (std::vector<std::string>{"Missing required value 9", "Missing required value 10",
                                                         "Missing required value 11"}));
}

TEST_F(RejectedEventsTest, SelectedBySinceSourceLimitAndPage) {
  open();
  store({{}, {rejected(1), rejected(2, "app")}});
  now_ += 60'000;
  store({{}, {rejected(3), rejected(4, "app"), rejected(5)}});
  EXPECT_EQ(listed().size(), 5u);
  RejectedEventSelection later;
  later.since = now_.load();
  EXPECT_EQ(reasons(listed(later)), (std::vector<std::string>{"Missing required value 3", "Missing required value 4",
                                                              "Missing required value 5"}));
  RejectedEventSelection app;
  app.source = "app";
  EXPECT_EQ(reasons(listed(app)), (std::vector<std::string>{"Missing required value 2", "Missing required value 4"}));
  app.since = now_.load();
  EXPECT_EQ(reasons(listed(app)), (std::vector<std::string>{"Missing required value 4"}));
  RejectedEventSelection page;
  page.limit = 2;
  const auto first = listed(page);
  ASSERT_EQ(first.size(), 2u);
  page.after_id = first.back().id;
  EXPECT_EQ(reasons(listed(page)), (std::vector<std::string>{"Missing required value 3", "Missing required value 4"}));
}

TEST_F(RejectedEventsTest, SettlingEnqueuesWhatTransformsNowAndUpdatesTheReasonOfTheRest) {
  auto& q = open();
  store({{}, {rejected(1), rejected(2), rejected(3)}});
  const auto events = listed();
  ASSERT_EQ(events.size(), 3u);
  store({{}, {rejected(4)}});
  auto settled = q.settle_rejected_events({RejectedEventOutcome{events[0].id, contact(1), std::nullopt},
                                           RejectedEventOutcome{events[2].id, std::nullopt, "still wrong"},
                                           RejectedEventOutcome{listed().back().id, std::nullopt, std::nullopt}});
  ASSERT_TRUE(settled) << settled.error().message;
  EXPECT_EQ(settled->enqueued, 1u);
  EXPECT_EQ(settled->still_rejected, 1u);
  EXPECT_EQ(settled->skipped, 1u);  // removed, nothing to send
  EXPECT_EQ(settled->gone, 0u);
  EXPECT_EQ(q.depth(), 1u);
  auto leased = q.lease("k", RecordType::contact, 10, 30s);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 1u);
  EXPECT_EQ(leased->records[0].json, contact(1).json);
  const auto left = listed();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].event.reason, "Missing required value 2");
  EXPECT_EQ(left[1].event.reason, "still wrong");
  EXPECT_EQ(left[1].rejected_at, events[2].rejected_at);

  // An event no longer stored (replayed by another run meanwhile) never becomes a second record.
  settled = q.settle_rejected_events({RejectedEventOutcome{events[0].id, contact(1), std::nullopt},
                                      RejectedEventOutcome{events[0].id, std::nullopt, "x"}});
  ASSERT_TRUE(settled);
  EXPECT_EQ(settled->enqueued, 0u);
  EXPECT_EQ(settled->gone, 2u);
  EXPECT_EQ(q.depth(), 1u);
}

TEST_F(RejectedEventsTest, ARecordThatIsTooLargeIsRefusedAndNothingIsStored) {
  auto& q = open();
  NewRecord huge = contact(1);
  huge.json = std::string(70 * 1024, 'x');
  auto refused = q.store({{huge}, {rejected(1)}}).get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, omt::errc::too_large);
  EXPECT_TRUE(listed().empty());
}

}  // namespace
