// Which instance delivers which API key, when several instances share one queue: each key with records is claimed
// by one live instance at a time through a claim in the database that expires unless renewed, so per-key order and
// Ometria's per-account rate limit hold across instances. Promises: a key is claimed by at most one instance whose
// claim has not expired; an instance claims at most its fair share, ceil(keys with records / live instances).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "omt/error.hpp"

namespace omt::queue {

// What the engine asks of one round: the keys it has stopped pushing (it was told to give them back in an earlier
// round and none of them has a push in flight any more): their claims are deleted, so another instance can take them.
struct OwnershipRequest {
  std::vector<std::string> give_back;
};

// A round's outcome: this instance's claims once the round committed, every claim renewed until the round's start
// plus lease_timeout (the engine counts its own claims as valid until then, by its own clock).
struct OwnedKeys {
  std::vector<std::string> owned;       // claimed by this instance, sorted; to_give_back included
  std::vector<std::string> taken_over;  // of owned: claimed in this round (free, or expired with a dead instance)
  std::vector<std::string> taken_from_expired;  // of taken_over: another instance's claim had expired
  // Of owned: over this instance's share (another instance joined). The engine stops pushing them and names
  // them in a later request's give_back once their pushes are done; until then they stay claimed and renewed.
  std::vector<std::string> to_give_back;
  std::vector<std::string> claimed_by_others;  // keys another live instance holds (a ready key in neither list is
                                               // free: the engine may ask for a round sooner)
  std::size_t live_instances = 1;  // this one included
  std::size_t keys = 0;            // keys with records
  std::size_t fair_share = 0;      // ceil(keys / live_instances)
};

// Rounds of one instance; the queue that implements it (Queue::key_ownership) runs them on its own thread.
// One round is one transaction: register or refresh this instance (its heartbeat), renew its claims, delete those
// given back, then claim free or expired keys up to the fair share. Taking a dead instance's expired claim also
// ends the record leases that instance left on the key, so its unacked records are pushed again now, not when
// their leases end. Completion callbacks run on the queue's thread: be quick, do not call back into the queue.
class KeyOwnership {
 public:
  using RoundDone = std::function<void(Expected<OwnedKeys>)>;
  using ResignDone = std::function<void(Expected<void>)>;

  virtual ~KeyOwnership() = default;

  // A round (see above). Call it every lease_timeout() / 3 at most, and sooner when a ready key is free.
  virtual void refresh_ownership(OwnershipRequest request, RoundDone done) = 0;
  // Gives back every claim and unregisters this instance (a stop): the others take its keys at their next round.
  virtual void resign_ownership(ResignDone done) = 0;
  // How long a claim (and an instance's registration) lasts without a renewal (config queue.lease_timeout).
  virtual std::chrono::milliseconds lease_timeout() const = 0;
  // This instance in the claims table: unique per process (a restarted instance is a new one).
  virtual const std::string& instance_id() const = 0;
};

}  // namespace omt::queue
