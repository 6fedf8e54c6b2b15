// What the scans' connection does beside the ready scans, each at its own cadence: raising the partition floors
// (partition_floors.hpp) and vacuuming the small tables every push rewrites.
#pragma once

#include <chrono>

#include "connection.hpp"
#include "omt/error.hpp"

namespace omt::queue::postgres {

// At most one step per `every`: claim() says whether one is due now, and if so starts the next wait.
class Cadence {
 public:
  explicit Cadence(std::chrono::milliseconds every) : every_(every) {}
  bool claim(std::chrono::steady_clock::time_point now) {
    if (now < next_) return false;
    next_ = now + every_;
    return true;
  }

 private:
  std::chrono::milliseconds every_;
  std::chrono::steady_clock::time_point next_{};
};

// record_leases gets a row per push and loses it at the ack; partition_floors a new row version per floor that rises.
// Rows deleted on pages that are not full stay until a vacuum, and only a vacuum tells inserts where the free
// space is: between autovacuum's rounds (a minute apart by default) the lease table grew by a page every ten
// pushes, and every ack reads all of it (measured: 445 pages for 13 leases after 15 s). Outside a transaction
// (VACUUM refuses to run in one); SKIP_LOCKED: another instance or autovacuum at it already is enough; TRUNCATE
// false: giving back the pages at the end would lock out every lease and ack meanwhile, and they fill again.
inline Expected<void> vacuum_churning_tables(Connection& db) {
  auto done = db.exec("VACUUM (SKIP_LOCKED, TRUNCATE false) record_leases, partition_floors", "vacuum the lease tables");
  if (!done) return tl::unexpected(done.error());
  return {};
}

}  // namespace omt::queue::postgres
