#include "omt/obs/delivery_events.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

namespace {

std::int64_t ms(std::chrono::milliseconds d) { return static_cast<std::int64_t>(d.count()); }

// The (api_key, type, records, status) every push outcome starts with.
EventFields push_fields(std::string_view api_key, std::string_view type, std::size_t records, std::string_view status) {
  EventFields fields;
  fields.text("key", key_fingerprint(api_key)).text("type", type).number("records", std::uint64_t{records})
      .text("status", status);
  return fields;
}

}  // namespace

// ---- without counters ----

void emit(const DeliveryStarted& e) {
  EventFields fields;
  fields.text("queue", e.queue_path).number("depth", e.depth).text("endpoint", e.endpoint);
  emit_line(level_enum::info, "delivery_started", fields,
            fmt::format("delivery: queue {} ({} records waiting), pushing to {}", e.queue_path, e.depth, e.endpoint));
}

void emit(const DeliveryThreadStuck&) {
  emit_line(level_enum::warn, "delivery_thread_stuck", EventFields{},
            "delivery: the delivery thread did not finish; stopping it");
}

void emit(const QueuedKeyWithoutSource& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).number("records", e.records).flag("held", e.held);
  const auto key = fields["key"];
  emit_line(level_enum::warn, "queued_key_without_source", fields,
            fmt::format("delivery: the queue holds {} records under key {}, which no configured source has (an old "
                        "key{}); records keep the key they were accepted under, so a corrected key does not move them. "
                        "Move them to a source's current key with `ometria-transformer queue rekey --from {} --source "
                        "NAME`, or give them up with `ometria-transformer queue release --key {} --to-dead-letter`",
                        e.records, key, e.held ? ", held: Ometria refused it" : "", key, key));
}

void emit(const SenderAnswered& e) {
  if (!spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.text("host", e.host).text("key", key_fingerprint(e.api_key)).number("status", e.status);
  emit_line(level_enum::debug, "sender_answered", fields,
            fmt::format("push to {} with {}: HTTP {}", e.host, fields["key"], e.status));
}

void emit(const SenderFailed& e) {
  if (!spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.text("host", e.host).text("key", key_fingerprint(e.api_key)).text("error", e.kind).user_text("detail", e.detail);
  emit_line(level_enum::debug, "sender_failed", fields,
            fmt::format("push to {} with {} failed: {} ({})", e.host, fields["key"], e.kind, fields["detail"]));
}

void emit(const ProxyPushAnswered& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).number("status", e.status).flag("answered", !e.failure);
  if (e.failure) fields.user_text("failure", *e.failure);
  emit_line(level_enum::info, "proxy_push_answered", fields,
            fmt::format("proxy: push for {} answered {}{}", fields["key"], e.status,
                        e.failure ? fmt::format(" (no answer: {})", fields["failure"]) : std::string()));
}

// ---- the delivery engine ----

DeliveryEvents::DeliveryEvents(Registry& metrics)
    : metrics_(metrics),
      depth_(metrics.gauge("omt_queue_depth", "Records waiting in the durable queue")),
      held_keys_(metrics.gauge("omt_delivery_held_keys", "API keys Ometria refused (401/403) whose records are held")),
      in_flight_(metrics.gauge("omt_delivery_in_flight", "Pushes to Ometria in flight")),
      latency_(metrics.histogram("omt_delivery_push_seconds", "Time from sending a push to its answer",
                                 latency_buckets_seconds())),
      delivered_records_(records("delivered")),
      retried_records_(records("retry")),
      dead_records_(records("dead_letter")),
      rejected_records_(records("rejected_by_ometria")) {}

Counter& DeliveryEvents::records(std::string_view outcome) {
  return metrics_.counter("omt_delivery_records_total",
                          "Records by what became of them (delivered excludes those a 2xx counted as rejected_by_ometria)",
                          {{"outcome", std::string(outcome)}});
}

Counter& DeliveryEvents::pushes(std::string_view outcome, std::string_view status) {
  auto key = std::make_pair(std::string(outcome), std::string(status));
  auto it = pushes_.find(key);
  if (it == pushes_.end()) {
    auto& counter = metrics_.counter("omt_delivery_pushes_total", "Pushes to Ometria by outcome and status",
                                     {{"outcome", key.first}, {"status", key.second}});
    it = pushes_.emplace(std::move(key), &counter).first;
  }
  return *it->second;
}

Gauge& DeliveryEvents::key_held(const std::string& fingerprint) {
  auto it = key_held_.find(fingerprint);
  if (it == key_held_.end()) {
    auto& gauge = metrics_.gauge("omt_delivery_key_held", "1 while Ometria refuses this key (by fingerprint)",
                                 {{"key", fingerprint}});
    it = key_held_.emplace(fingerprint, &gauge).first;
  }
  return *it->second;
}

void DeliveryEvents::emit(const PushDelivered& e) {
  pushes("delivered", e.status).inc();
  // The outcomes partition the records: those Ometria's receipt counts as rejected are counted apart
  // (rejected_by_ometria, by RecordsRejectedByOmetria), not as delivered.
  const auto rejected = static_cast<std::uint64_t>(std::max<std::int64_t>(e.rejected, 0));
  delivered_records_.inc(e.records > rejected ? e.records - rejected : 0);
  EventFields fields = push_fields(e.api_key, e.type, e.records, e.status);
  // Ometria's request id is not user data, but it is text from the network: bounded and redacted like any.
  if (e.request_id) fields.user_text("request_id", e.request_id->substr(0, 128));
  if (e.accepted) fields.number("accepted", *e.accepted);
  fields.number("rejected", e.rejected).number("took_ms", static_cast<std::int64_t>(e.took.count()));
  emit_line(level_enum::info, "push_delivered", fields,
            fmt::format("push delivered: key {} type {} records {} status {} request_id {} accepted {} rejected {} in {} ms",
                        fields["key"], e.type, e.records, e.status, e.request_id ? fields["request_id"] : "?",
                        e.accepted ? fields["accepted"] : "?", e.rejected, e.took.count()));
}

void DeliveryEvents::emit(const PushRetried& e) {
  pushes("retry", e.status).inc();
  retried_records_.inc(e.records);
  EventFields fields = push_fields(e.api_key, e.type, e.records, e.status);
  fields.text("reason", e.reason).text("detail", e.detail).number("retry_in_ms", ms(e.retry_in))
      .number("attempt", std::uint64_t{e.attempt});
  emit_line(level_enum::warn, "push_retried", fields,
            fmt::format("push failed: key {} type {} records {} status {} ({}{}); retry in {} ms (attempt {})",
                        fields["key"], e.type, e.records, e.status, e.reason,
                        e.detail.empty() ? std::string() : fmt::format(": {}", e.detail), e.retry_in.count(), e.attempt));
}

void DeliveryEvents::emit(const RecordsDeadLettered& e) {
  pushes("dead_letter", e.status).inc();
  dead_records_.inc(e.records);
  EventFields fields = push_fields(e.api_key, e.type, e.records, e.status);
  fields.text("reason", e.reason);
  emit_line(level_enum::err, "records_dead_lettered", fields,
            fmt::format("push refused: key {} type {} records {} status {}; moved to the dead-letter store: {}",
                        fields["key"], e.type, e.records, e.status, e.reason));
}

void DeliveryEvents::emit(const PushKeyRefused& e) { pushes("hold", e.status).inc(); }

void DeliveryEvents::emit(const RecordsRejectedByOmetria& e) {
  rejected_records_.inc(static_cast<std::uint64_t>(e.rejected));
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("type", e.type).number("rejected", e.rejected)
      .number("records", std::uint64_t{e.records});
  emit_line(level_enum::warn, "records_rejected_by_ometria", fields,
            fmt::format("push: Ometria counted {} of {} {} records of key {} as rejected (see GET /v2/push/_errors)",
                        e.rejected, e.records, e.type, fields["key"]));
}

void DeliveryEvents::emit(const BacklogPause& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).number("pause_ms", ms(e.pause));
  emit_line(level_enum::warn, "backlog_pause", fields,
            fmt::format("push: Ometria's backlog for key {} is nearly full; pausing its pushes for {} ms", fields["key"],
                        e.pause.count()));
}

void DeliveryEvents::emit(const PushAnswered& e) { latency_.observe(std::chrono::duration<double>(e.took).count()); }

void DeliveryEvents::emit(const KeyHeld& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("reason", e.reason).number("probe_in_ms", ms(e.probe_in));
  emit_line(level_enum::warn, "key_held", fields,
            fmt::format("delivery: Ometria refused key {} ({}): holding its records (kept in the queue, not dropped); "
                        "probing again in {} ms. Other keys keep flowing. Check the key in the configuration.",
                        fields["key"], e.reason, e.probe_in.count()));
}

void DeliveryEvents::emit(const KeyHeldSincePreviousRun& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("reason", e.reason).number("probe_in_ms", ms(e.probe_in));
  emit_line(level_enum::warn, "key_held_since_previous_run", fields,
            fmt::format("delivery: key {} is held ({}) since a previous run; probing it in {} ms", fields["key"],
                        e.reason, e.probe_in.count()));
}

void DeliveryEvents::emit(const KeyProbing& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key));
  emit_line(level_enum::info, "key_probing", fields, fmt::format("delivery: probing key {} with one push", fields["key"]));
}

void DeliveryEvents::emit(const KeyAcceptedAgain& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key));
  emit_line(level_enum::warn, "key_accepted_again", fields,
            fmt::format("delivery: Ometria accepts key {} again; its held records flow", fields["key"]));
}

void DeliveryEvents::emit(const KeyNoLongerRefused& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key));
  emit_line(level_enum::warn, "key_no_longer_refused", fields,
            fmt::format("delivery: Ometria no longer refuses key {}; its held records flow", fields["key"]));
}

void DeliveryEvents::emit(const KeyHoldDropped& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key));
  emit_line(level_enum::warn, "key_hold_dropped", fields,
            fmt::format("delivery: the hold on key {} was dropped in the queue (queue rekey or queue release); it is "
                        "held no longer", fields["key"]));
}

void DeliveryEvents::emit(const HeldKeysChanged& e) {
  std::map<std::string, bool> held;
  for (const auto& key : e.api_keys) held[key_fingerprint(key)] = true;
  for (const auto& [fingerprint, yes] : held) key_held(fingerprint).set(1);
  for (auto& [fingerprint, gauge] : key_held_) {
    if (!held.contains(fingerprint)) gauge->set(0);
  }
  held_keys_.set(static_cast<std::int64_t>(e.api_keys.size()));
}

void DeliveryEvents::emit(const QueueDepthSeen& e) { depth_.set(static_cast<std::int64_t>(e.depth)); }

void DeliveryEvents::emit(const OldestLiveRecordAge& e) {
  auto it = oldest_live_.find(e.source);
  if (it == oldest_live_.end()) {
    auto& gauge = metrics_.gauge("omt_queue_oldest_live_record_age_seconds",
                                 "Age of the oldest undelivered live record, by source (past 4 hours Ometria ignores "
                                 "events for automations)",
                                 {{"source", e.source}});
    it = oldest_live_.emplace(e.source, &gauge).first;
  }
  it->second->set(std::max<std::int64_t>(e.seconds, 0));
}

void DeliveryEvents::emit(const PushesInFlight& e) { in_flight_.set(static_cast<std::int64_t>(e.in_flight)); }

void DeliveryEvents::emit(const ReadyPartitionsUnreadable& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::err, "ready_partitions_unreadable", fields,
            fmt::format("delivery: cannot list ready partitions: {}", e.error));
}

void DeliveryEvents::emit(const LeaseFailed& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("type", e.type).text("error", e.error);
  emit_line(level_enum::err, "lease_failed", fields,
            fmt::format("delivery: cannot lease records of {} {}: {}", fields["key"], e.type, e.error));
}

void DeliveryEvents::emit(const QueueUpdateFailed& e) {
  EventFields fields;
  fields.text("update", e.update).text("key", key_fingerprint(e.api_key)).text("type", e.type).text("error", e.error);
  emit_line(level_enum::err, "queue_update_failed", fields,
            fmt::format("delivery: queue {} failed for {} {}: {}", e.update, fields["key"], e.type, e.error));
}

void DeliveryEvents::emit(const HeldRecordsNotReleased& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::err, "held_records_not_released", fields,
            fmt::format("delivery: cannot give leased records back to the queue (due again when their lease ends): {}",
                        e.error));
}

void DeliveryEvents::emit(const ProbeNotStarted& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("error", e.error);
  emit_line(level_enum::err, "probe_not_started", fields,
            fmt::format("delivery: cannot release key {} for a probe: {}", fields["key"], e.error));
}

void DeliveryEvents::emit(const HeldKeysUnreadable& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::err, "held_keys_unreadable", fields,
            fmt::format("delivery: cannot read the held keys: {}", e.error));
}

void DeliveryEvents::emit(const DeliveryCutOff&) {
  emit_line(level_enum::warn, "delivery_cut_off", EventFields{},
            "delivery: stopped with pushes in flight; their records stay queued and go again");
}

}  // namespace omt::obs
