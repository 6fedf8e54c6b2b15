// The queue's one writer thread and its group commit: every operation is a Task run on that thread, and the
// tasks that queue up while a transaction is being written go into the next one, so one commit (one fsync)
// answers many callers. Each task runs in its own SAVEPOINT (one failing task does not undo the others) and is
// told its outcome only after the commit. The writer counts the waiting records, per lane: only it knows what
// committed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chunk_store.hpp"
#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/sqlite_queue.hpp"

namespace omt::queue::sqlite {

// How a task changes the number of waiting records of each lane.
struct DepthDelta {
  std::int64_t live = 0;
  std::int64_t backfill = 0;
  void add(Lane lane, std::int64_t records) { (lane == Lane::backfill ? backfill : live) += records; }
  DepthDelta& operator+=(const DepthDelta& other) {
    live += other.live;
    backfill += other.backfill;
    return *this;
  }
};

class GroupCommitWriter {
 public:
  // One unit of work. run() executes on the writer thread inside the shared transaction and sets how it changes
  // the number of waiting records; finish() is called after the commit, with the error if any (be quick there,
  // and do not call back into the queue: it runs on the writer thread).
  struct Task {
    std::size_t records = 1;  // counted against max_records_per_transaction
    bool durable = false;     // the caller is told "stored": commit with the configured durability
    std::function<Expected<void>(DepthDelta& depth_delta)> run;
    std::function<void(const Error*)> finish;
  };

  struct Options {
    Durability durability = Durability::power_loss;
    std::size_t max_pending_operations = 10'000;       // beyond this, submit refuses (errc::unavailable)
    std::size_t max_records_per_transaction = 20'000;  // group commit stops gathering here
    LaneCounts depth;                                  // records waiting when the writer starts
    // Counts the waiting records exactly (on the writer thread, inside a transaction). When set, a transaction
    // that finds another connection committed since the last one (PRAGMA data_version: an operator command
    // such as dead-letter replay or queue release) recounts, so the cheap count stays right beside the CLI.
    std::function<Expected<LaneCounts>()> count_records;
  };

  // Prepares the transaction statements, sets PRAGMA synchronous for the durability and starts the thread,
  // which from then on is the only user of the connection.
  static Expected<std::unique_ptr<GroupCommitWriter>> start(Connection& db, Options options);
  // Runs every task still pending, then stops the thread.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Queues a task; false when the writer is stopping or too many tasks wait (refused says which).
  bool submit(Task task, Error& refused);

  // Runs body(DepthDelta&) -> Expected<T> on the writer thread inside a transaction, then done(result) after the
  // commit, on the writer thread; refused (closing, too busy), done is called at once on the caller's thread.
  template <class T, class Body>
  void submit_call(Body body, std::function<void(Expected<T>)> done);

  std::uint64_t depth(Lane lane) const { return depth_[index(lane)].load(std::memory_order_relaxed); }
  std::uint64_t depth() const { return depth(Lane::live) + depth(Lane::backfill); }
  // Re-syncs the count with an exact one (another process, the CLI, may have changed the database).
  void set_depth(LaneCounts depth) {
    depth_[index(Lane::live)].store(depth.live, std::memory_order_relaxed);
    depth_[index(Lane::backfill)].store(depth.backfill, std::memory_order_relaxed);
  }
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  // Unavailable from a transaction that failed as a whole (its begin or commit, or a write SQLite rolled back
  // entirely: a full disk, an I/O error) until one commits again.
  QueueHealth health() const {
    std::lock_guard lock(health_mutex_);
    return health_;
  }

 private:
  void transaction_ended(const std::optional<Error>& failure);
  GroupCommitWriter(Connection& db, Options options) : db_(db), options_(options) {}
  Expected<void> prepare();
  Expected<void> step(const Statement& stmt, std::string_view what);
  void loop();
  void run_group(std::vector<Task>& tasks);
  static std::size_t index(Lane lane) { return lane == Lane::backfill ? 1 : 0; }
  void apply_depth_delta(Lane lane, std::int64_t delta);

  Connection& db_;
  const Options options_;
  Expected<std::optional<LaneCounts>> recount_if_changed_elsewhere();

  Statement begin_, commit_, rollback_, savepoint_, release_, rollback_to_, sync_full_, sync_normal_, data_version_;
  std::int64_t last_data_version_ = 0;
  bool synchronous_full_ = false;  // the connection's current PRAGMA synchronous

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> pending_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> depth_[2] = {0, 0};  // by index(lane)
  std::atomic<std::uint64_t> commits_{0};
  mutable std::mutex health_mutex_;
  QueueHealth health_{"sqlite", QueueHealth::State::ok, 0, {}};  // guarded by health_mutex_
  std::chrono::steady_clock::time_point down_since_{};            // the writer thread's
  std::thread thread_;
};

template <class T, class Body>
void GroupCommitWriter::submit_call(Body body, std::function<void(Expected<T>)> done) {
  auto result = std::make_shared<std::optional<T>>();
  auto shared_done = std::make_shared<std::function<void(Expected<T>)>>(std::move(done));
  Task task;
  task.run = [result, body = std::move(body)](DepthDelta& delta) mutable -> Expected<void> {
    auto value = body(delta);
    if (!value) return tl::unexpected(value.error());
    result->emplace(std::move(*value));
    return {};
  };
  task.finish = [result, shared_done](const Error* err) {
    if (err != nullptr) (*shared_done)(tl::unexpected(*err));
    else (*shared_done)(std::move(**result));
  };
  Error refused;
  if (!submit(std::move(task), refused)) (*shared_done)(tl::unexpected(refused));
}

}  // namespace omt::queue::sqlite
