// Why one writer thread for everything: a single connection then needs no locking of its own, its prepared
// statements are reused without contention, and every operation that arrives while a commit is being synced
// joins the next transaction, so one fsync answers many callers.
// Only enqueues need a synced commit (an ack, lease or reschedule lost to a power cut merely repeats a push,
// which at-least-once allows): with Durability::power_loss, PRAGMA synchronous is FULL only for transactions
// holding a durable task, NORMAL otherwise.
#include "group_commit.hpp"

#include <algorithm>
#include <exception>

#include "omt/obs/database_events.hpp"
#include "omt/obs/queue_events.hpp"

namespace omt::queue::sqlite {

namespace {
UnixMillis wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

// Told once per run of failed transactions, and once when one commits again.
void GroupCommitWriter::transaction_ended(const std::optional<Error>& failure) {
  std::lock_guard lock(health_mutex_);
  const bool was_ok = health_.state == QueueHealth::State::ok;
  if (failure) {
    health_.error = failure->message;
    if (!was_ok) return;
    health_.state = QueueHealth::State::unavailable;
    health_.since = wall_ms();
    down_since_ = std::chrono::steady_clock::now();
    obs::emit(obs::QueueDatabaseUnavailable{"sqlite", failure->message});
    return;
  }
  if (was_ok) return;
  health_ = QueueHealth{"sqlite", QueueHealth::State::ok, wall_ms(), {}};
  obs::emit(obs::QueueDatabaseBack{
      "sqlite", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - down_since_), 0});
}

Expected<std::unique_ptr<GroupCommitWriter>> GroupCommitWriter::start(Connection& db, Options options) {
  std::unique_ptr<GroupCommitWriter> writer(new GroupCommitWriter(db, options));
  if (auto r = writer->prepare(); !r) return tl::unexpected(r.error());
  writer->set_depth(options.depth);
  writer->health_.since = wall_ms();
  GroupCommitWriter* raw = writer.get();
  writer->thread_ = std::thread([raw] {
    const QueueThreadMark mark;  // the waiting forms refuse to wait here
    raw->loop();
  });
  return writer;
}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Expected<void> GroupCommitWriter::prepare() {
  auto prepared = db_.prepare_each({
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&savepoint_, "SAVEPOINT operation"},
      {&release_, "RELEASE operation"},
      {&rollback_to_, "ROLLBACK TO operation"},
      {&sync_full_, "PRAGMA synchronous=FULL"},
      {&sync_normal_, "PRAGMA synchronous=NORMAL"},
      {&data_version_, "PRAGMA data_version"},
  });
  if (!prepared) return prepared;
  {
    Query q(db_, data_version_, "read the data version");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    last_data_version_ = q.integer(0);
  }
  // Both settings keep a commit through SIGKILL in WAL mode; FULL also syncs the WAL for power loss.
  synchronous_full_ = options_.durability == Durability::power_loss;
  return step(synchronous_full_ ? sync_full_ : sync_normal_, "set synchronous");
}

Expected<void> GroupCommitWriter::step(const Statement& stmt, std::string_view what) {
  Query q(db_, stmt, what);
  auto r = q.step();
  if (!r) return tl::unexpected(r.error());
  return {};
}

bool GroupCommitWriter::submit(Task task, Error& refused) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      refused = Error{errc::io, "queue: closed", db_.path().string()};
      return false;
    }
    if (pending_.size() >= options_.max_pending_operations) {
      refused = Error{errc::unavailable, "queue: too many operations waiting", db_.path().string()};
      return false;
    }
    pending_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void GroupCommitWriter::loop() {
  std::vector<Task> group;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything has been done
      // Group commit: take everything that queued up while the last transaction was being synced.
      std::size_t records = 0;
      while (!pending_.empty() &&
             (group.empty() || records + pending_.front().records <= options_.max_records_per_transaction)) {
        records += pending_.front().records;
        group.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    run_group(group);
    // Now, not at the next wake-up: the callbacks may hold what their callers wait to see released (a server
    // connection held by an ingest answer would otherwise count as open until the next operation).
    group.clear();
  }
}

// Inside the transaction: the exact count when another connection has committed since this one last looked.
Expected<std::optional<LaneCounts>> GroupCommitWriter::recount_if_changed_elsewhere() {
  if (!options_.count_records) return std::optional<LaneCounts>{};
  std::int64_t version = 0;
  {
    Query q(db_, data_version_, "read the data version");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    version = q.integer(0);
  }
  if (version == last_data_version_) return std::optional<LaneCounts>{};
  auto counted = options_.count_records();
  if (!counted) return tl::unexpected(counted.error());
  last_data_version_ = version;
  return std::optional<LaneCounts>(*counted);
}

void GroupCommitWriter::run_group(std::vector<Task>& tasks) {
  std::vector<std::optional<Error>> failures(tasks.size());
  std::optional<Error> group_failure;
  DepthDelta depth_delta;
  std::optional<LaneCounts> recounted;  // the exact count at the transaction's start, when it was taken

  const bool want_full = options_.durability == Durability::power_loss &&
                         std::any_of(tasks.begin(), tasks.end(), [](const Task& t) { return t.durable; });
  if (want_full != synchronous_full_) {
    if (auto set = step(want_full ? sync_full_ : sync_normal_, "set synchronous"); !set) {
      group_failure = set.error();
    } else {
      synchronous_full_ = want_full;
    }
  }
  if (group_failure) {
    // nothing was begun
  } else if (auto begun = step(begin_, "begin transaction"); !begun) {
    group_failure = begun.error();
  } else {
    // A failed recount only leaves the cheap count as it was; the tasks go on.
    if (auto count = recount_if_changed_elsewhere(); count) recounted = *count;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      if (auto sp = step(savepoint_, "savepoint"); !sp) {
        group_failure = sp.error();
        break;
      }
      DepthDelta delta;
      auto ran = tasks[i].run(delta);
      if (ran) {
        depth_delta += delta;
        if (auto released = step(release_, "release savepoint"); !released) {
          group_failure = released.error();
          break;
        }
        continue;
      }
      failures[i] = ran.error();
      // Some errors (disk full, I/O) make SQLite roll the whole transaction back: then nothing is committed.
      if (!db_.in_transaction()) {
        group_failure = ran.error();
        break;
      }
      auto undone = step(rollback_to_, "roll back savepoint");
      auto released = undone ? step(release_, "release savepoint") : undone;
      if (!released) {
        group_failure = released.error();
        break;
      }
    }
    if (!group_failure) {
      if (auto committed = step(commit_, "commit"); !committed) group_failure = committed.error();
    }
    if (group_failure && db_.in_transaction()) {
      if (auto rolled = step(rollback_, "roll back"); !rolled) obs::emit(obs::QueueRollbackFailed{rolled.error().message});
    }
  }

  transaction_ended(group_failure);
  if (group_failure) {
    obs::emit(obs::QueueTransactionFailed{group_failure->message});
  } else {
    commits_.fetch_add(1, std::memory_order_relaxed);
    if (recounted) {
      const auto exact = [](std::uint64_t counted, std::int64_t delta) {
        const auto n = static_cast<std::int64_t>(counted) + delta;
        return n > 0 ? static_cast<std::uint64_t>(n) : 0;
      };
      set_depth(LaneCounts{exact(recounted->live, depth_delta.live), exact(recounted->backfill, depth_delta.backfill)});
    } else {
      apply_depth_delta(Lane::live, depth_delta.live);
      apply_depth_delta(Lane::backfill, depth_delta.backfill);
    }
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const Error* err = group_failure ? &*group_failure : (failures[i] ? &*failures[i] : nullptr);
    try {
      tasks[i].finish(err);
    } catch (const std::exception& e) {
      obs::emit(obs::QueueCallbackThrew{e.what()});
    } catch (...) {
      obs::emit(obs::QueueCallbackThrew{std::nullopt});
    }
  }
}

void GroupCommitWriter::apply_depth_delta(Lane lane, std::int64_t delta) {
  auto& depth = depth_[index(lane)];
  if (delta >= 0) {
    depth.fetch_add(static_cast<std::uint64_t>(delta), std::memory_order_relaxed);
    return;
  }
  // Never below zero: another process (the CLI) may have removed records this count still holds.
  const auto drop = static_cast<std::uint64_t>(-delta);
  std::uint64_t current = depth.load(std::memory_order_relaxed);
  while (!depth.compare_exchange_weak(current, current >= drop ? current - drop : 0, std::memory_order_relaxed)) {
  }
}

}  // namespace omt::queue::sqlite
