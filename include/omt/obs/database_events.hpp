// The queue database's own events: it became unavailable (told once per outage, with the first error and when the
// next attempt to connect comes), it answers again (with how long it did not), and the state seen by the service
// as a gauge (omt_queue_database_up). One struct per outcome, one emit overload each (obs/event.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "omt/obs/metrics.hpp"

namespace omt::obs {

// The queue cannot use its database (a connection lost, a connect refused; for SQLite a transaction that failed
// as a whole: a full disk, an I/O error, a lock held too long): its operations fail until it can again.
struct QueueDatabaseUnavailable {
  std::string_view backend;  // "postgres", "sqlite"
  std::string_view error;    // the queue's message, no user data (never a password: the server is named without it)
  bool reconnects = false;   // a server: new connections are tried with backoff (SQLite: each write tries again)
  std::chrono::milliseconds retry_in{0};  // reconnects: when the next attempt comes (0: with the next operation)
};
// The database answers again after an outage.
struct QueueDatabaseBack {
  std::string_view backend;
  std::chrono::milliseconds down_for{0};
  std::uint64_t attempts = 0;  // connects that failed meanwhile (a server; 0 for SQLite)
};
// The state the service saw (after each scan and queue update): the gauge omt_queue_database_up, and the
// counter omt_queue_database_round_trips_total raised to the queue's count.
struct QueueDatabaseSeen {
  bool up = true;
  std::uint64_t round_trips = 0;  // the queue's total so far (QueueHealth::round_trips)
};

void emit(const QueueDatabaseUnavailable& event);
void emit(const QueueDatabaseBack& event);

// The gauge of the database's state and the counter of its round trips, registered once.
class DatabaseEvents {
 public:
  explicit DatabaseEvents(Registry& metrics);
  void emit(const QueueDatabaseSeen& event);

 private:
  Gauge& up_;
  Counter& round_trips_;
};

}  // namespace omt::obs
