// Delivery's side of GET /v2/push/_errors (what Ometria rejected after a 2xx), the pure parts: when each API key
// is polled (ErrorPollSchedule), and which of our recent pushes an error names (RecentPushes), so that an error
// carrying a record id or a request id can be shown with the records we sent. Pure: times are passed in, no I/O.
// The engine (src/service/delivery_ometria_errors.cpp) polls, stores and tells; ometria/push_api.hpp reads answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "omt/ometria/push_api.hpp"

namespace omt::delivery {

// When each key's errors are read: every `interval` (0: never), one poll per key at a time. A key's first poll
// comes one interval after it is added, so that a start (or a restart) does not fire a poll for every key at
// once, and a key is asked only once it has had time to be pushed to.
class ErrorPollSchedule {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit ErrorPollSchedule(std::chrono::milliseconds interval) : interval_(interval) {}

  bool enabled() const { return interval_.count() > 0; }
  std::chrono::milliseconds interval() const { return interval_; }
  // No-op when the schedule is off or already has the key.
  void add_key(const std::string& api_key, Time now);
  // Keys whose poll is due at `now` and not under way, earliest due first.
  std::vector<std::string> due(Time now) const;
  // The key's poll starts now: it is not due again until polled().
  void started(const std::string& api_key);
  // The key's poll is over (answered or failed): the next one is an interval from now.
  void polled(const std::string& api_key, Time now);
  // The earliest time a key not under way falls due; nullopt when none can.
  std::optional<Time> next_due() const;
  std::size_t keys() const { return keys_.size(); }

 private:
  struct KeyState {
    Time due{};
    bool under_way = false;
  };
  std::chrono::milliseconds interval_;
  std::map<std::string, KeyState> keys_;
};

// What a delivered push sent, as far as matching errors needs it.
struct PushedRecords {
  std::string request_id;  // from Ometria's receipt; may be empty
  std::string type;        // "contact", "order", ...
  std::int64_t pushed_at_unix_ms = 0;
  std::vector<std::string> record_ids;  // each record's "id"
};

// The push (and records) an error was matched to.
struct ErrorMatch {
  std::vector<std::string> record_ids;  // the record the error names, or every record of the push it names
  std::string request_id;
  std::string type;
  std::int64_t pushed_at_unix_ms = 0;
};

// One distinct entry of an errors answer: how often it is listed there (Ometria's documented entries carry no
// ids, so two identical lines are two errors), and what of ours it names.
struct SeenError {
  ometria::OmetriaError error;
  std::string digest;            // ometria::error_digest(error)
  std::uint32_t occurrences = 1;  // in one answer (for what a store returns: the new ones)
  std::optional<ErrorMatch> match;
};
// The entries of one answer, each once, in the order they first appear.
std::vector<SeenError> distinct_errors(const std::vector<ometria::OmetriaError>& errors);

// The records of the most recent delivered pushes per key, bounded by their total number of record ids (oldest
// pushes forgotten first). Kept in memory: an error about a push older than what is kept, or made before this
// process started, stays unmatched.
class RecentPushes {
 public:
  explicit RecentPushes(std::size_t max_records = 100'000) : max_records_(max_records) {}

  void add(const std::string& api_key, PushedRecords push);
  // By the error's record id first (the latest push of that record under this key), then by its request id
  // (the whole push). nullopt when the error carries neither, or names nothing kept.
  std::optional<ErrorMatch> match(const std::string& api_key, const ometria::OmetriaError& error) const;
  std::size_t records() const { return records_; }
  std::size_t pushes() const { return pushes_.size(); }

 private:
  struct Kept {
    std::string api_key;
    PushedRecords push;
  };
  static std::string index_key(const std::string& api_key, const std::string& id) { return api_key + '\n' + id; }
  const Kept* find(const std::unordered_map<std::string, std::uint64_t>& index, const std::string& key) const;
  void forget_oldest();

  std::size_t max_records_;
  std::size_t records_ = 0;
  std::uint64_t first_seq_ = 0;  // the sequence number of pushes_.front()
  std::deque<Kept> pushes_;
  std::unordered_map<std::string, std::uint64_t> by_record_;   // (key, record id) -> latest push's sequence
  std::unordered_map<std::string, std::uint64_t> by_request_;  // (key, request id) -> push's sequence
};

}  // namespace omt::delivery
