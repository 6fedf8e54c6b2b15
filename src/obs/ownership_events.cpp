#include "omt/obs/ownership_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

namespace {
constexpr const char* kChanges = "omt_delivery_ownership_changes_total";
constexpr const char* kChangesHelp = "API keys this instance took over, gave back or lost (several instances on one queue)";
}  // namespace

OwnershipEvents::OwnershipEvents(Registry& metrics)
    : owned_(metrics.gauge("omt_delivery_owned_keys", "API keys this instance delivers (claimed in the shared queue)")),
      taken_over_(metrics.counter(kChanges, kChangesHelp, {{"change", "taken_over"}})),
      given_back_(metrics.counter(kChanges, kChangesHelp, {{"change", "given_back"}})),
      lost_(metrics.counter(kChanges, kChangesHelp, {{"change", "lost"}})),
      round_failures_(metrics.counter("omt_delivery_ownership_round_failures_total",
                                      "Ownership rounds (heartbeat, renewals, claims) that failed")) {}

void OwnershipEvents::emit(const KeyTakenOver& e) {
  taken_over_.inc();
  const std::string key = key_fingerprint(e.api_key);
  EventFields fields;
  fields.text("key", key).flag("from_dead_instance", e.from_dead_instance);
  emit_line(spdlog::level::info, "key_taken_over", fields,
            e.from_dead_instance
                ? fmt::format("delivery: took over key {} (its owner's claim expired unrenewed)", key)
                : fmt::format("delivery: took over key {}", key));
}

void OwnershipEvents::emit(const KeyGivenBack& e) {
  given_back_.inc();
  const std::string key = key_fingerprint(e.api_key);
  EventFields fields;
  fields.text("key", key).number("fair_share", std::uint64_t{e.fair_share});
  emit_line(spdlog::level::info, "key_given_back", fields,
            fmt::format("delivery: gave back key {} (over this instance's fair share of {})", key, e.fair_share));
}

void OwnershipEvents::emit(const KeyLost& e) {
  lost_.inc();
  const std::string key = key_fingerprint(e.api_key);
  EventFields fields;
  fields.text("key", key);
  emit_line(spdlog::level::warn, "key_lost", fields,
            fmt::format("delivery: key {} is another instance's now (this one's claim expired first)", key));
}

void OwnershipEvents::emit(const OwnershipStarted& e) {
  EventFields fields;
  fields.text("instance", e.instance_id);
  emit_line(spdlog::level::info, "ownership_started", fields,
            fmt::format("delivery: this instance is {} in the shared queue's key claims", e.instance_id));
}

void OwnershipEvents::emit(const HeldKeyTakenOver& e) {
  const std::string key = key_fingerprint(e.api_key);
  EventFields fields;
  fields.text("key", key).text("reason", e.reason).number("probe_in_ms", static_cast<std::int64_t>(e.probe_in.count()));
  emit_line(spdlog::level::warn, "held_key_taken_over", fields,
            fmt::format("delivery: key {} was held ({}) by the instance that delivered it before: held here too; "
                        "probing it in {} ms",
                        key, e.reason, e.probe_in.count()));
}

void OwnershipEvents::emit(const OwnershipExpired& e) {
  EventFields fields;
  fields.number("keys", std::uint64_t{e.keys});
  emit_line(spdlog::level::warn, "ownership_expired", fields,
            fmt::format("delivery: no renewal of this instance's claims got through in time: pushing none of its {} "
                        "key{} until it claims them again",
                        e.keys, e.keys == 1 ? "" : "s"));
}

void OwnershipEvents::emit(const OwnershipRoundFailed& e) {
  round_failures_.inc();
  EventFields fields;
  fields.text("error", e.error);
  emit_line(spdlog::level::warn, "ownership_round_failed", fields,
            fmt::format("delivery: could not renew or claim keys: {}", e.error));
}

void OwnershipEvents::emit(const OwnedKeysCounted& e) {
  owned_.set(static_cast<std::int64_t>(e.owned));
  EventFields fields;
  fields.number("owned", std::uint64_t{e.owned}).number("keys", std::uint64_t{e.keys})
      .number("instances", std::uint64_t{e.live_instances});
  emit_line(spdlog::level::debug, "owned_keys_counted", fields,
            fmt::format("delivery: owns {} of {} keys ({} instance{})", e.owned, e.keys, e.live_instances,
                        e.live_instances == 1 ? "" : "s"));
}

}  // namespace omt::obs
