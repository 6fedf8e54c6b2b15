// The keys Ometria refused (401/403): their records stay queued, untouched, until a probe push succeeds. This
// table is the bookkeeping alone: who is held, why, since when, when the probe is due, and which one pusher of a
// held key may carry the probe. Times are wall-clock unix milliseconds passed in; it never reads a clock, does
// no I/O and is not thread-safe (delivery's strand owns it).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "omt/ometria/transformer.hpp"

namespace omt::delivery {

// One pusher of one (key, type): the unit that pushes (see service::DeliveryService).
struct Pusher {
  ometria::RecordType type = ometria::RecordType::contact;
  unsigned index = 0;  // which of the partition's concurrent pushers
  bool backfill = false;  // of the backfill lane (queue::Lane), not the live one
  auto operator<=>(const Pusher&) const = default;
  bool operator==(const Pusher&) const = default;
};

struct KeyHold {
  std::string reason;             // "HTTP 401 Unauthorized: ..."
  std::int64_t held_at_ms = 0;    // unix ms
  std::int64_t probe_at_ms = 0;   // when the probe is due
  bool probing = false;           // its records are back in the queue; one pusher may push as the probe
  std::optional<Pusher> probe;      // the pusher carrying the probe, once one claimed it
};

class KeyHoldTable {
 public:
  // Ometria refused the key. True when this starts a hold (the key was not held, or its probe was refused
  // again): the caller holds its records and arms the probe for probe_after. False: it is held already.
  bool hold(const std::string& api_key, std::string reason, std::int64_t now_ms, std::chrono::milliseconds probe_after);
  // A hold from an earlier run: its probe is due probe_interval after held_at. Returns the wait until then (0
  // when overdue).
  std::chrono::milliseconds restore(const std::string& api_key, std::string reason, std::int64_t held_at_ms,
                                    std::int64_t now_ms, std::chrono::milliseconds probe_interval);
  // The probe time came and the key's records are due again: one pusher may now push. False when the key is not
  // held or is probing already.
  bool start_probe(const std::string& api_key);
  // The probe could not start (the queue failed): try again after `after`.
  void postpone_probe(const std::string& api_key, std::int64_t now_ms, std::chrono::milliseconds after);
  // A pusher of an unheld key may always push; of a held key only while probing, and only the one pusher carrying
  // the probe (the first to ask claims it).
  bool may_push(const std::string& api_key, const Pusher& pusher);
  bool is_probe(const std::string& api_key, const Pusher& pusher) const;
  // The pusher gives the probe up (it had nothing to push, or its records went back): another pusher may claim it.
  void clear_probe(const std::string& api_key, const Pusher& pusher);
  // The probe got an answer other than 401/403: the key is no longer held. False when it was not.
  bool release(const std::string& api_key);

  bool held(const std::string& api_key) const { return holds_.contains(api_key); }
  const std::map<std::string, KeyHold>& holds() const { return holds_; }

 private:
  std::map<std::string, KeyHold> holds_;
};

}  // namespace omt::delivery
