// Key ownership's named events (several instances on one PostgreSQL queue, docs/scaling.md): a key this instance
// took over (held, perhaps) or gave back, one it lost, claims that expired unrenewed, and a round that failed; the gauge
// omt_delivery_owned_keys says how many keys this instance delivers. Keys are written as their fingerprints only.
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

namespace omt::obs {

class Registry;
class Counter;
class Gauge;

// This instance claimed a key: a free one, or (from_dead_instance) one whose claim expired unrenewed.
struct KeyTakenOver {
  std::string_view api_key;
  bool from_dead_instance = false;
};
// This instance gave a key back: over its fair share once another instance joined (its pushes were done).
struct KeyGivenBack {
  std::string_view api_key;
  std::size_t fair_share = 0;
};
// A key this instance owned is another's now (its claim expired before a renewal got through).
struct KeyLost {
  std::string_view api_key;
};
// Delivery starts on a shared queue: this instance's name in its claims (and its record leases).
struct OwnershipStarted {
  std::string_view instance_id;  // host:pid:random
};
// A key this instance just claimed is held in the queue (Ometria refused it while another instance delivered it):
// held here too, its probe due hold_probe_interval after it was held.
struct HeldKeyTakenOver {
  std::string_view api_key;
  std::string_view reason;  // the hold's reason, as stored (no user data)
  std::chrono::milliseconds probe_in{0};
};
// No renewal got through within lease_timeout: this instance pushes none of its keys until it claims them again.
struct OwnershipExpired {
  std::size_t keys = 0;
};
struct OwnershipRoundFailed {
  std::string_view error;  // the queue's message (no user data)
};
// After each round: how many keys this instance owns (and may push), of how many, over how many instances.
struct OwnedKeysCounted {
  std::size_t owned = 0;
  std::size_t keys = 0;
  std::size_t live_instances = 1;
};

// Registers omt_delivery_owned_keys and omt_delivery_ownership_changes_total{change} at construction.
class OwnershipEvents {
 public:
  explicit OwnershipEvents(Registry& metrics);
  OwnershipEvents(const OwnershipEvents&) = delete;
  OwnershipEvents& operator=(const OwnershipEvents&) = delete;

  void emit(const KeyTakenOver& event);
  void emit(const KeyGivenBack& event);
  void emit(const KeyLost& event);
  void emit(const OwnershipStarted& event);
  void emit(const HeldKeyTakenOver& event);
  void emit(const OwnershipExpired& event);
  void emit(const OwnershipRoundFailed& event);
  void emit(const OwnedKeysCounted& event);

 private:
  Gauge& owned_;
  Counter& taken_over_;
  Counter& given_back_;
  Counter& lost_;
  Counter& round_failures_;
};

}  // namespace omt::obs
