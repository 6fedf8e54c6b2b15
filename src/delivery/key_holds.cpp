#include "omt/delivery/key_holds.hpp"

#include <algorithm>
#include <utility>

namespace omt::delivery {

bool KeyHoldTable::hold(const std::string& api_key, std::string reason, std::int64_t now_ms,
                        std::chrono::milliseconds probe_after) {
  KeyHold& h = holds_[api_key];
  // Held and not probing: a pusher that leased before the hold began saw the same refusal; nothing new.
  if (!h.reason.empty() && !h.probing) return false;
  h.reason = std::move(reason);
  h.held_at_ms = now_ms;
  h.probe_at_ms = now_ms + probe_after.count();
  h.probing = false;
  h.probe.reset();
  return true;
}

std::chrono::milliseconds KeyHoldTable::restore(const std::string& api_key, std::string reason,
                                                std::int64_t held_at_ms, std::int64_t now_ms,
                                                std::chrono::milliseconds probe_interval) {
  KeyHold& h = holds_[api_key];
  h.reason = std::move(reason);
  h.held_at_ms = held_at_ms;
  h.probe_at_ms = held_at_ms + probe_interval.count();
  h.probing = false;
  h.probe.reset();
  return std::chrono::milliseconds(std::max<std::int64_t>(0, h.probe_at_ms - now_ms));
}

bool KeyHoldTable::start_probe(const std::string& api_key) {
  auto it = holds_.find(api_key);
  if (it == holds_.end() || it->second.probing) return false;
  it->second.probing = true;
  it->second.probe.reset();
  return true;
}

void KeyHoldTable::postpone_probe(const std::string& api_key, std::int64_t now_ms, std::chrono::milliseconds after) {
  if (auto it = holds_.find(api_key); it != holds_.end()) it->second.probe_at_ms = now_ms + after.count();
}

bool KeyHoldTable::may_push(const std::string& api_key, const Pusher& pusher) {
  auto it = holds_.find(api_key);
  if (it == holds_.end()) return true;
  KeyHold& h = it->second;
  if (!h.probing) return false;
  if (h.probe && *h.probe != pusher) return false;
  h.probe = pusher;
  return true;
}

bool KeyHoldTable::is_probe(const std::string& api_key, const Pusher& pusher) const {
  auto it = holds_.find(api_key);
  return it != holds_.end() && it->second.probing && it->second.probe == pusher;
}

void KeyHoldTable::clear_probe(const std::string& api_key, const Pusher& pusher) {
  auto it = holds_.find(api_key);
  if (it != holds_.end() && it->second.probe == pusher) it->second.probe.reset();
}

bool KeyHoldTable::release(const std::string& api_key) { return holds_.erase(api_key) > 0; }

}  // namespace omt::delivery
