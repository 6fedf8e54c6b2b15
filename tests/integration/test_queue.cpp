// The SQLite queue against a real database in a temporary directory: what only SQLite does (group commit counted
// in transactions, the cheap depth beside another connection, file errors, SIGKILL). The contract every backend
// keeps is in test_queue_contract.cpp.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "omt/queue/sqlite_queue.hpp"
#include "queue_records.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::DeadLetterSelection;
using omt::queue::Durability;
using omt::queue::NewRecord;
using omt::queue::RecordId;
using omt::queue::RecordType;
using omt::queue::SqliteQueue;
using omt::queue::SqliteQueueOptions;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-queue-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

using omt::test::contact;
using omt::test::contacts;

class QueueTest : public ::testing::Test {
 protected:
  SqliteQueueOptions options() {
    SqliteQueueOptions o;
    o.path = dir_.path() / "data" / "queue.db";
    o.clock = [this] { return now_.load(); };
    return o;
  }
  std::unique_ptr<SqliteQueue> open(SqliteQueueOptions o) {
    auto q = SqliteQueue::open(std::move(o));
    if (!q) ADD_FAILURE() << q.error().message;
    return q ? std::move(*q) : nullptr;
  }
  std::unique_ptr<SqliteQueue> open() { return open(options()); }
  static std::vector<RecordId> enqueue(SqliteQueue& q, std::vector<NewRecord> records) {
    return omt::test::enqueue_acknowledged(q, std::move(records));
  }

  TempDir dir_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
};

TEST_F(QueueTest, GroupCommitGathersConcurrentProducersIntoOneTransaction) {
  auto q = open();
  ASSERT_TRUE(q);
  // The first enqueue's callback runs on the writer thread; holding it there lets every other producer's
  // enqueue pile up, so the next transaction must gather them all (no timing assumptions).
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false, first_done = false;
  std::promise<void> first_acked;
  q->enqueue(contacts("gate", 0, 1), [&](omt::Expected<std::vector<RecordId>> ids) {
    EXPECT_TRUE(ids);
    std::unique_lock lock(mutex);
    first_done = true;
    cv.notify_all();
    cv.wait_for(lock, 30s, [&] { return release; });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return first_done; }));
  }
  const auto commits_before = q->commits();
  constexpr int producers = 8, enqueues_each = 25, records_each = 10;
  std::vector<std::future<omt::Expected<std::vector<RecordId>>>> futures(producers * enqueues_each);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int e = 0; e < enqueues_each; ++e) {
        futures[p * enqueues_each + e] =
            q->enqueue(contacts("key-" + std::to_string(p), (p * enqueues_each + e) * records_each, records_each));
      }
    });
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  std::set<RecordId> all;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    auto ids = f.get();
    ASSERT_TRUE(ids) << ids.error().message;
    ASSERT_EQ(ids->size(), static_cast<std::size_t>(records_each));
    all.insert(ids->begin(), ids->end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(producers * enqueues_each * records_each));
  EXPECT_EQ(q->commits() - commits_before, 1u) << "200 enqueues should share one transaction";
  EXPECT_EQ(q->depth(), 2001u);
}

TEST_F(QueueTest, TheCheapDepthFollowsWhatAnotherConnectionCommitted) {
  auto q = open();
  ASSERT_TRUE(q);
  enqueue(*q, contacts("old", 0, 3));
  auto other = open();  // an operator command beside the service
  ASSERT_TRUE(other);
  EXPECT_EQ(*other->release_key("old", "given up"), 3u);
  ASSERT_TRUE(q->ready_partitions());  // any transaction of its own sees the other's commit
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(*other->replay({}), 3u);
  ASSERT_TRUE(q->held_keys());
  EXPECT_EQ(q->depth(), 3u);
  enqueue(*q, contacts("old", 10, 2));  // and its own changes still count on top
  EXPECT_EQ(q->depth(), 5u);
}

TEST_F(QueueTest, OpenErrorsAreClear) {
  auto o = options();
  o.create_if_missing = false;
  auto missing = SqliteQueue::open(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, omt::errc::io);
  EXPECT_NE(missing.error().message.find("no queue database"), std::string::npos) << missing.error().message;

  std::ofstream(dir_.path() / "a-file") << "x";
  o = options();
  o.path = dir_.path() / "a-file" / "queue.db";
  auto under_file = SqliteQueue::open(o);
  ASSERT_FALSE(under_file);
  EXPECT_EQ(under_file.error().code, omt::errc::io);

  std::ofstream(dir_.path() / "not-a-db") << "this is not an SQLite database, just some text long enough to be read";
  o.path = dir_.path() / "not-a-db";
  auto garbage = SqliteQueue::open(o);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, omt::errc::io);
  EXPECT_NE(garbage.error().message.find("SQLite"), std::string::npos) << garbage.error().message;
}

// A child process enqueues from several threads and writes every acknowledged id to a pipe; it is killed with
// SIGKILL mid-stream. Every id it reported must be in the database afterwards.
class QueueKillTest : public QueueTest, public ::testing::WithParamInterface<Durability> {};

TEST_P(QueueKillTest, NoAcknowledgedRecordIsLostWhenTheProcessIsKilled) {
  auto o = options();
  o.durability = GetParam();
  o.clock = nullptr;  // the child must not touch the parent's fixture
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto q = SqliteQueue::open(o);
    if (!q) _exit(3);
    std::vector<std::thread> producers;
    for (int p = 0; p < 4; ++p) {
      producers.emplace_back([&, p] {
        for (int n = 0;; ++n) {  // until killed
          auto ids = (*q)->enqueue(contacts("k" + std::to_string(p), n * 50, 50)).get();
          if (!ids) _exit(4);
          // 400 bytes < PIPE_BUF: each write is atomic, so ids from different threads never interleave.
          if (write(fds[1], ids->data(), ids->size() * sizeof(RecordId)) < 0) _exit(5);
        }
      });
    }
    for (auto& t : producers) t.join();
    _exit(0);
  }
  close(fds[1]);
  std::vector<RecordId> acknowledged;
  std::vector<char> pending_bytes;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    if (!killed && acknowledged.size() >= 3000) {
      ASSERT_EQ(kill(child, SIGKILL), 0);
      killed = true;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    ASSERT_GT(left.count(), 0) << "the child acknowledged too little in time";
    ASSERT_GE(poll(&pfd, 1, static_cast<int>(left.count())), 0);
    char buffer[4096];
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF: the child is gone and the pipe is drained
    pending_bytes.insert(pending_bytes.end(), buffer, buffer + n);
    const std::size_t whole = pending_bytes.size() / sizeof(RecordId) * sizeof(RecordId);
    for (std::size_t i = 0; i < whole; i += sizeof(RecordId)) {
      RecordId id;
      std::memcpy(&id, pending_bytes.data() + i, sizeof id);
      acknowledged.push_back(id);
    }
    pending_bytes.erase(pending_bytes.begin(), pending_bytes.begin() + static_cast<std::ptrdiff_t>(whole));
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(killed) << "the child exited by itself with status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  auto q = SqliteQueue::open(o);
  ASSERT_TRUE(q) << q.error().message;
  std::set<RecordId> stored;
  for (int p = 0; p < 4; ++p) {
    auto leased = (*q)->lease("k" + std::to_string(p), RecordType::contact, 1'000'000, 1min);
    ASSERT_TRUE(leased) << leased.error().message;
    for (const auto& r : leased->records) stored.insert(r.id);
  }
  EXPECT_GE(acknowledged.size(), 3000u);
  std::size_t missing = 0;
  for (RecordId id : acknowledged) missing += stored.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged records";
}

INSTANTIATE_TEST_SUITE_P(Durability, QueueKillTest,
                         ::testing::Values(Durability::process_crash, Durability::power_loss),
                         [](const ::testing::TestParamInfo<Durability>& param_info) {
                           return param_info.param == Durability::process_crash ? std::string("ProcessCrash")
                                                                          : std::string("PowerLoss");
                         });

}  // namespace
