// The PostgreSQL side of queue::KeyOwnership: the SQL of one ownership round and of a resignation, each run inside
// a transaction the queue opens (PostgresQueue runs them on its connection's thread, like every operation). Rounds
// of all instances take one advisory lock, so each sees the claims as the last one left them (no two instances
// ever claim one key) and rounds stay cheap (a few statements, every lease_timeout / 3 per instance).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/key_ownership.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::postgres {

struct OwnershipRound {
  std::string instance_id;
  UnixMillis now = 0;  // the queue's clock: claims and registrations expire at now + lease_timeout
  std::chrono::milliseconds lease_timeout{30000};
  std::vector<std::string> give_back;
};

// What the round decided, from the claims it read (pure: the tests check it without a database).
struct Claim {
  std::string api_key;
  std::string instance_id;
  UnixMillis expires_at = 0;
};
struct OwnershipPlan {
  std::vector<std::string> keep;          // this instance's claims, renewed
  std::vector<std::string> take;          // free keys claimed now
  std::vector<std::string> take_expired;  // of take: an expired claim of another instance (its record leases end)
  std::vector<std::string> to_give_back;  // of keep: over the share
  std::vector<std::string> claimed_by_others;
  std::size_t fair_share = 0;
};
// keys: the keys with records, sorted; claims: every claim row left after the given-back ones were deleted.
OwnershipPlan plan_ownership(const std::string& instance_id, UnixMillis now, const std::vector<std::string>& keys,
                             const std::vector<Claim>& claims, std::size_t live_instances);

Expected<OwnedKeys> run_ownership_round(Connection& db, const OwnershipRound& round);
Expected<void> resign_ownership(Connection& db, const std::string& instance_id);
// Every registered instance and every instance with a claim, with its claims (for queue stats).
Expected<std::vector<DeliveryInstance>> read_delivery_instances(Connection& db);

}  // namespace omt::queue::postgres
