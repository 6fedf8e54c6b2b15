// An in-memory queue::Queue for tests of the delivery engine without SQLite: the same contract in the small
// (due times, leases, attempts, held keys, dead letters, rejected events, lanes and their totals, unbounded; the
// request log, bounded, whose writes can be made to fail), nothing durable. Thread-safe: delivery calls it from its
// strand, and every operation answers at once, on the caller's thread (after the lock is released).
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "omt/queue/queue.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::test {

class MemoryQueue final : public queue::Queue, public queue::RequestLog {
 public:
  OMT_QUEUE_WAITING_FORMS;
  using RequestLog::logged_requests;

  void enqueue(std::vector<queue::NewRecord> records, EnqueueDone done) override {
    std::vector<queue::RecordId> ids;
    {
      std::lock_guard lock(mutex_);
      ids = add_records(std::move(records));
    }
    done(std::move(ids));
  }

  void store(queue::IngestWrite write, StoreDone done) override {
    queue::IngestStored stored;
    {
      std::lock_guard lock(mutex_);
      stored.records = add_records(std::move(write.records));
      for (auto& e : write.rejected) rejected_.push_back(queue::RejectedEvent{next_rejected_id_++, std::move(e), now_ms()});
    }
    done(std::move(stored));
  }

  void rejected_events(const queue::RejectedEventSelection& which, queue::Done<std::vector<queue::RejectedEvent>> done) override {
    done([&]() -> Expected<std::vector<queue::RejectedEvent>> {
      std::lock_guard lock(mutex_);
      std::vector<queue::RejectedEvent> out;
      for (const auto& e : rejected_) {
        if (which.limit != 0 && out.size() == which.limit) break;
        if (e.id <= which.after_id || (which.since && e.rejected_at < *which.since)) continue;
        if (!which.source.empty() && e.event.source != which.source) continue;
        out.push_back(e);
      }
      return out;
    }());
  }

  void settle_rejected_events(std::vector<queue::RejectedEventOutcome> outcomes, queue::Done<queue::RejectedEventsSettled> done) override {
    done([&]() -> Expected<queue::RejectedEventsSettled> {
      std::lock_guard lock(mutex_);
      queue::RejectedEventsSettled settled;
      for (auto& outcome : outcomes) {
        auto it = std::find_if(rejected_.begin(), rejected_.end(), [&](const auto& e) { return e.id == outcome.id; });
        if (it == rejected_.end()) {
          ++settled.gone;
        } else if (outcome.reason) {
          it->event.reason = *outcome.reason;
          ++settled.still_rejected;
        } else {
          rejected_.erase(it);
          if (!outcome.record) {
            ++settled.skipped;
            continue;
          }
          add_records({std::move(*outcome.record)});
          ++settled.enqueued;
        }
      }
      return settled;
    }());
  }

  void lease(const std::string& api_key, queue::RecordType type, queue::Lane lane, std::size_t max,
                                std::chrono::milliseconds lease_for, queue::Done<queue::Leased> done) override {
    done([&]() -> Expected<queue::Leased> {
      std::lock_guard lock(mutex_);
      queue::Leased leased;
      const auto now = now_ms();
      for (auto& [id, s] : records_) {
        if (!due(s, now) || s.record.api_key != api_key || s.record.type != type || s.record.lane != lane) continue;
        if (leased.records.size() == max) {
          leased.more_due = true;
          break;
        }
        s.leased_until = now + lease_for.count();
        leased.records.push_back(s.record);
      }
      return leased;
    }());
  }

  void ack(const std::vector<queue::RecordId>& ids, queue::Done<std::size_t> done) override {
    done([&]() -> Expected<std::size_t> {
      std::lock_guard lock(mutex_);
      std::size_t n = 0;
      for (auto id : ids) {
        auto it = records_.find(id);
        if (it == records_.end()) continue;
        ++totals_[partition_of(it->second.record)].delivered;
        records_.erase(it);
        ++n;
      }
      acked_ += n;
      return n;
    }());
  }

  void reschedule(const std::vector<queue::RecordId>& ids, std::chrono::milliseconds delay, queue::Done<std::size_t> done) override {
    done([&]() -> Expected<std::size_t> {
      std::lock_guard lock(mutex_);
      std::size_t n = 0;
      for (auto id : ids) {
        auto it = records_.find(id);
        if (it == records_.end()) continue;
        ++it->second.record.attempts;
        it->second.record.next_attempt_at = now_ms() + delay.count();
        it->second.leased_until = 0;
        ++n;
      }
      return n;
    }());
  }

  void give_back(const std::vector<queue::RecordId>& ids, queue::Done<std::size_t> done) override {
    done([&]() -> Expected<std::size_t> {
      std::lock_guard lock(mutex_);
      std::size_t n = 0;
      for (auto id : ids) {
        auto it = records_.find(id);
        if (it == records_.end() || it->second.leased_until == 0) continue;
        it->second.leased_until = 0;
        ++n;
      }
      return n;
    }());
  }

  void dead_letter(const std::vector<queue::RecordId>& ids, const std::string& reason, queue::Done<std::size_t> done) override {
    done([&]() -> Expected<std::size_t> {
      std::lock_guard lock(mutex_);
      std::size_t n = 0;
      for (auto id : ids) {
        auto it = records_.find(id);
        if (it == records_.end()) continue;
        dead_.push_back(queue::DeadRecord{it->second.record, reason, now_ms()});
        ++totals_[partition_of(it->second.record)].dead_lettered;
        records_.erase(it);
        ++n;
      }
      return n;
    }());
  }

  void hold_key(const std::string& api_key, const std::string& reason, queue::Done<void> done) override {
    done([&]() -> Expected<void> {
      std::lock_guard lock(mutex_);
      held_.try_emplace(api_key, queue::HeldKey{api_key, reason, now_ms()});
      ++holds_;
      return {};
    }());
  }
  void unhold_key(const std::string& api_key, queue::Done<void> done) override {
    done([&]() -> Expected<void> {
      std::lock_guard lock(mutex_);
      held_.erase(api_key);
      return {};
    }());
  }
  void held_keys(queue::Done<std::vector<queue::HeldKey>> done) override {
    done([&]() -> Expected<std::vector<queue::HeldKey>> {
      std::lock_guard lock(mutex_);
      std::vector<queue::HeldKey> keys;
      for (const auto& [key, h] : held_) keys.push_back(h);
      return keys;
    }());
  }

  void rekey(const std::string& from_key, const std::string& to_key, queue::Done<std::size_t> done) override {
    done([&]() -> Expected<std::size_t> {
      std::lock_guard lock(mutex_);
      std::size_t n = 0;
      for (auto& [id, s] : records_) {
        if (s.record.api_key != from_key) continue;
        s.record.api_key = to_key;
        ++n;
      }
      held_.erase(from_key);
      return n;
    }());
  }
  void release_key(const std::string& api_key, const std::string& reason, queue::Done<std::size_t> done) override {
    done([&]() -> Expected<std::size_t> {
      std::lock_guard lock(mutex_);
      std::size_t n = 0;
      for (auto it = records_.begin(); it != records_.end();) {
        if (it->second.record.api_key != api_key) {
          ++it;
          continue;
        }
        dead_.push_back(queue::DeadRecord{it->second.record, reason, now_ms()});
        ++totals_[partition_of(it->second.record)].dead_lettered;
        it = records_.erase(it);
        ++n;
      }
      held_.erase(api_key);
      return n;
    }());
  }

  void ready_partitions(std::uint64_t /*count_up_to*/, queue::Done<std::vector<queue::ReadyPartition>> done) override {
    done([&]() -> Expected<std::vector<queue::ReadyPartition>> {
      std::lock_guard lock(mutex_);
      std::map<Partition, std::uint64_t> ready;
      const auto now = now_ms();
      for (const auto& [id, s] : records_) {
        if (due(s, now) && !held_.contains(s.record.api_key)) ++ready[partition_of(s.record)];
      }
      std::vector<queue::ReadyPartition> out;
      for (const auto& [key, n] : ready) {
        out.push_back(queue::ReadyPartition{std::get<0>(key), std::get<1>(key), n, std::get<2>(key)});
      }
      // Live first, as the SQLite queue lists them.
      std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.lane < b.lane; });
      return out;
    }());
  }

  void stats(queue::Done<queue::QueueStats> done) override {
    done([&]() -> Expected<queue::QueueStats> {
      std::lock_guard lock(mutex_);
      queue::QueueStats s;
      std::map<Partition, queue::PartitionStats> partitions;
      for (const auto& [id, r] : records_) {
        auto& p = partitions[partition_of(r.record)];
        if (p.depth == 0 || r.record.created_at < p.oldest_created_at) p.oldest_created_at = r.record.created_at;
        ++p.depth;
        if (!s.oldest_created_at || r.record.created_at < *s.oldest_created_at) s.oldest_created_at = r.record.created_at;
      }
      for (const auto& [key, t] : totals_) {
        auto& p = partitions[key];
        p.delivered = t.delivered;
        p.dead_lettered = t.dead_lettered;
      }
      for (auto& [key, p] : partitions) {
        p.api_key = std::get<0>(key);
        p.type = std::get<1>(key);
        p.lane = std::get<2>(key);
        (p.depth > 0 ? s.partitions : s.drained).push_back(p);
      }
      s.depth = records_.size();
      s.dead_letters = dead_.size();
      s.rejected_events = rejected_.size();
      return s;
    }());
  }
  std::uint64_t depth() const override {
    std::lock_guard lock(mutex_);
    return records_.size();
  }
  std::uint64_t lane_depth(queue::Lane lane) const override {
    std::lock_guard lock(mutex_);
    return static_cast<std::uint64_t>(
        std::count_if(records_.begin(), records_.end(), [lane](const auto& r) { return r.second.record.lane == lane; }));
  }
  std::uint64_t high_water_mark() const override { return 1'000'000; }

  void dead_letters(const queue::DeadLetterSelection&, queue::Done<std::vector<queue::DeadRecord>> done) override {
    done([&]() -> Expected<std::vector<queue::DeadRecord>> {
      std::lock_guard lock(mutex_);
      return dead_;
    }());
  }
  void replay(const queue::DeadLetterSelection&, queue::Done<std::size_t> done) override {
    done(std::size_t{0});
  }
  void purge(const queue::DeadLetterSelection&, queue::Done<std::size_t> done) override {
    done(std::size_t{0});
  }

  // ---- the request log ----
  queue::RequestLog* request_log() override { return this; }
  void log_pushes(std::vector<queue::RequestLogEntry> entries, LogDone done) override {
    bool fails = false;
    {
      std::lock_guard lock(mutex_);
      fails = fail_log_writes_;
      if (!fails) {
        for (auto& e : entries) logged_.push_back(queue::LoggedRequest{next_logged_id_++, std::move(e)});
        while (logged_.size() > max_request_log_) logged_.erase(logged_.begin());
      }
    }
    if (!done) return;
    if (!fails) return done(nullptr);
    const Error failed{errc::io, "queue: log a push: disk I/O error (scripted)", ""};
    done(&failed);
  }
  void logged_requests(const queue::RequestLogSelection& which, queue::Done<std::vector<queue::LoggedRequest>> done) override {
    done([&]() -> Expected<std::vector<queue::LoggedRequest>> {
      std::lock_guard lock(mutex_);
      std::vector<queue::LoggedRequest> out;
      const auto select = [&](const queue::LoggedRequest& r) {
        if (which.limit != 0 && out.size() == which.limit) return false;
        const auto& e = r.entry;
        const bool past = which.after_id == 0 || (which.newest_first ? r.id < which.after_id : r.id > which.after_id);
        if (past && (!which.since || e.at >= *which.since) && (which.source.empty() || (", " + e.source + ", ").find(", " + which.source + ", ") != std::string::npos) &&
            (!which.status_from || e.status >= *which.status_from) && (!which.status_to || e.status <= *which.status_to))
          out.push_back(r);
        return true;
      };
      if (which.newest_first) {
        for (auto it = logged_.rbegin(); it != logged_.rend() && select(*it);) ++it;
      } else {
        for (auto it = logged_.begin(); it != logged_.end() && select(*it);) ++it;
      }
      return out;
    }());
  }
  // From now on every log write fails (the entries are not kept), or succeeds again.
  void fail_log_writes(bool fail) {
    std::lock_guard lock(mutex_);
    fail_log_writes_ = fail;
  }
  void set_max_request_log(std::size_t max) {
    std::lock_guard lock(mutex_);
    max_request_log_ = max;
  }

  void start_import_run(queue::NewImportRun run, queue::Done<queue::ImportRun> done) override {
    done([&]() -> Expected<queue::ImportRun> {
      std::lock_guard lock(mutex_);
      queue::ImportRun r;
      r.id = static_cast<queue::ImportRunId>(runs_.size() + 1);
      r.run_key = std::move(run.run_key);
      r.source = std::move(run.source);
      r.arguments = std::move(run.arguments);
      r.files = std::move(run.files);
      r.started_at = r.updated_at = now_ms();
      runs_.push_back(r);
      return r;
    }());
  }
  void import_runs(const std::string& run_key, queue::Done<std::vector<queue::ImportRun>> done) override {
    done([&]() -> Expected<std::vector<queue::ImportRun>> {
      std::lock_guard lock(mutex_);
      std::vector<queue::ImportRun> out;
      for (const auto& r : runs_)
        if (run_key.empty() || r.run_key == run_key) out.push_back(r);
      return out;
    }());
  }
  void set_import_run_state(queue::ImportRunId id, queue::ImportState state, queue::Done<void> done) override {
    done([&]() -> Expected<void> {
      std::lock_guard lock(mutex_);
      if (id < 1 || static_cast<std::size_t>(id) > runs_.size()) return fail(errc::not_found, "no import run");
      runs_[static_cast<std::size_t>(id - 1)].state = state;
      return {};
    }());
  }
  void enqueue_import(std::vector<queue::NewRecord> records, queue::ImportCheckpoint checkpoint, EnqueueDone done) override {
    std::vector<queue::RecordId> ids;
    {
      std::lock_guard lock(mutex_);
      if (checkpoint.run_id < 1 || static_cast<std::size_t>(checkpoint.run_id) > runs_.size()) {
        done(fail(errc::not_found, "no import run"));
        return;
      }
      auto& run = runs_[static_cast<std::size_t>(checkpoint.run_id - 1)];
      run.records += records.size();
      checkpoint.updated_at = now_ms();
      auto at = std::find_if(run.checkpoints.begin(), run.checkpoints.end(), [&](const auto& c) {
        return c.file_index == checkpoint.file_index && c.pass == checkpoint.pass;
      });
      if (at == run.checkpoints.end()) run.checkpoints.push_back(checkpoint);
      else *at = checkpoint;
      std::sort(run.checkpoints.begin(), run.checkpoints.end(), [](const auto& a, const auto& b) {
        return std::pair(a.file_index, a.pass) < std::pair(b.file_index, b.pass);
      });
      ids = add_records(std::move(records));
    }
    done(std::move(ids));
  }
  // Delivers (removes) up to n of the oldest records, as a running service would.
  std::size_t deliver_oldest(std::size_t n) {
    std::lock_guard lock(mutex_);
    std::size_t removed = 0;
    while (removed < n && !records_.empty()) {
      ++totals_[partition_of(records_.begin()->second.record)].delivered;  // as an ack counts it
      records_.erase(records_.begin());
      ++removed;
    }
    acked_ += removed;
    return removed;
  }
  std::vector<queue::QueuedRecord> records() const {
    std::lock_guard lock(mutex_);
    std::vector<queue::QueuedRecord> out;
    for (const auto& [id, s] : records_) out.push_back(s.record);
    return out;
  }

  std::size_t acked() const {
    std::lock_guard lock(mutex_);
    return acked_;
  }
  std::size_t holds() const {
    std::lock_guard lock(mutex_);
    return holds_;
  }
  std::vector<std::uint32_t> attempts() const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint32_t> out;
    for (const auto& [id, s] : records_) out.push_back(s.record.attempts);
    return out;
  }

 private:
  // Under mutex_.
  std::vector<queue::RecordId> add_records(std::vector<queue::NewRecord> records) {
    std::vector<queue::RecordId> ids;
    for (auto& r : records) {
      Stored s;
      s.record = queue::QueuedRecord{next_id_++, r.api_key, r.type, std::move(r.json), r.lane, 0, now_ms(), now_ms()};
      ids.push_back(s.record.id);
      records_.emplace(s.record.id, std::move(s));
    }
    return ids;
  }

  struct Stored {
    queue::QueuedRecord record;
    queue::UnixMillis leased_until = 0;
  };
  using Partition = std::tuple<std::string, queue::RecordType, queue::Lane>;
  static Partition partition_of(const queue::QueuedRecord& r) { return {r.api_key, r.type, r.lane}; }
  struct Totals {
    std::uint64_t delivered = 0;
    std::uint64_t dead_lettered = 0;
  };
  static queue::UnixMillis now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  bool due(const Stored& s, queue::UnixMillis now) const {
    return s.record.next_attempt_at <= now && s.leased_until <= now && !held_.contains(s.record.api_key);
  }

  mutable std::mutex mutex_;
  std::map<queue::RecordId, Stored> records_;  // by id: oldest first
  std::map<std::string, queue::HeldKey> held_;
  std::vector<queue::DeadRecord> dead_;
  std::map<Partition, Totals> totals_;
  std::vector<queue::RejectedEvent> rejected_;  // oldest first
  std::vector<queue::ImportRun> runs_;  // run id - 1
  queue::RecordId next_id_ = 1;
  queue::RecordId next_rejected_id_ = 1;
  std::size_t acked_ = 0;
  std::size_t holds_ = 0;
  std::vector<queue::LoggedRequest> logged_;  // oldest first
  std::int64_t next_logged_id_ = 1;
  std::size_t max_request_log_ = 100'000;
  bool fail_log_writes_ = false;
};

}  // namespace omt::test
