#include "omt/obs/ingest_events.hpp"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <utility>

#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

namespace {

// The refusals no line has told yet, once the queue stores again (or at the end): one line with their count and
// the last one's error.
void tell_refusals_since_last_line(std::uint64_t requests, std::uint64_t records, std::string_view error,
                                   bool at_the_end) {
  EventFields fields;
  fields.number("more_refused_requests", requests)
      .number("more_refused_records", records)
      .text("error", error)
      .text("until", at_the_end ? "shutdown" : "stored_again");
  emit_line(level_enum::warn, "ingest_queue_refused_since_last_line", fields,
            fmt::format("ingest: {} more request{} refused since the last such line, {} records (the last: {}); {}",
                        requests, requests == 1 ? "" : "s", records, error,
                        at_the_end ? "told at shutdown" : "the queue stores again"));
}

}  // namespace

struct IngestEvents::Refusals {
  std::mutex mutex;
  std::optional<std::chrono::steady_clock::time_point> last_line;
  std::optional<std::chrono::steady_clock::time_point> last_stored_line;  // the last "the queue stores again"
  std::uint64_t requests = 0;  // refused since the last line, not written
  std::uint64_t records = 0;
  std::string last_error;  // of the last of those
  std::atomic<bool> untold{false};  // requests > 0: read without the lock on every commit

  // What no line has told is told at the end (the service stopping while the queue still refuses, or right after).
  ~Refusals() {
    if (requests == 0) return;
    try {
      tell_refusals_since_last_line(requests, records, last_error, /*at_the_end=*/true);
    } catch (...) {  // a destructor: the line is lost rather than the process
    }
  }
};

IngestEvents::IngestEvents(Registry* registry, std::span<const std::string_view> skip_outcomes)
    : refusals_(std::make_shared<Refusals>()) {
  if (registry == nullptr) return;
  accepted_events_ = &registry->counter("omt_ingest_events_total", "Events received by ingest, by outcome",
                                        {{"outcome", "accepted"}});
  rejected_events_ = &registry->counter("omt_ingest_events_total", "Events received by ingest, by outcome",
                                        {{"outcome", "rejected"}});
  skipped_events_ = &registry->counter("omt_ingest_events_total", "Events received by ingest, by outcome",
                                       {{"outcome", "skipped"}});
  for (const std::string_view outcome : skip_outcomes)
    skip_outcome_events_.emplace_back(
        outcome, &registry->counter("omt_ingest_events_total", "Events received by ingest, by outcome",
                                    {{"outcome", std::string(outcome)}}));
  slowed_answers_ = &registry->counter(
      "omt_ingest_slowed_answers_total", "Ingest answers held back because the queue is over ingest.slow_down_from");
  cors_refused_ = &registry->counter("omt_ingest_cors_refused_total",
                                     "Ingest requests from a browser origin that no source allows (no CORS headers sent)");
  rejected_dropped_ = &registry->counter(
      "omt_ingest_rejected_events_dropped_total",
      "Rejected events dropped, oldest first, to keep the rejected-events store within queue.max_rejected_events");
}

void IngestEvents::emit(const IngestBodyDecoded& e) const {
  if (!spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.text("coding", e.coding)
      .number("encoded_bytes", static_cast<std::uint64_t>(e.encoded_bytes))
      .number("decoded_bytes", static_cast<std::uint64_t>(e.decoded.size()));
  emit_line(level_enum::debug, "ingest_body_decoded", fields,
            fmt::format("ingest: {} body of {} bytes decoded to {} bytes", e.coding, e.encoded_bytes, e.decoded.size()));
  if (!spdlog::should_log(level_enum::trace)) return;
  const std::string body = loggable_body(e.decoded);  // redacted, then cut
  EventFields body_fields;
  body_fields.text("body", body);
  emit_line(level_enum::trace, "ingest_decoded_body", body_fields, fmt::format("ingest: decoded body: {}", body));
}

void IngestEvents::emit(const IngestEventsRejected& e) const {
  if (rejected_events_ != nullptr && e.events > 0) rejected_events_->inc(e.events);
}

void IngestEvents::emit(const IngestEventsSkipped& e) const {
  if (skipped_events_ == nullptr || e.events == 0) return;
  Counter* counter = skipped_events_;
  for (const auto& [outcome, outcome_counter] : skip_outcome_events_)
    if (outcome == e.outcome) counter = outcome_counter;
  counter->inc(e.events);
}

void IngestEvents::emit(const IngestRecordsStored& e) const {
  if (accepted_events_ != nullptr) accepted_events_->inc(e.records);
}

void IngestEvents::emit(const IngestQueueRefused& e) const {
  const auto at = e.at == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::now() : e.at;
  std::uint64_t more_requests = 0, more_records = 0;
  {
    std::lock_guard lock(refusals_->mutex);
    if (refusals_->last_line && at - *refusals_->last_line < kRefusedLineEvery) {
      ++refusals_->requests;
      refusals_->records += e.records;
      refusals_->last_error.assign(e.error);
      refusals_->untold.store(true, std::memory_order_relaxed);
      return;
    }
    more_requests = std::exchange(refusals_->requests, 0);
    more_records = std::exchange(refusals_->records, 0);
    refusals_->untold.store(false, std::memory_order_relaxed);
    refusals_->last_line = at;
  }
  EventFields fields;
  fields.number("records", static_cast<std::uint64_t>(e.records)).text("error", e.error);
  if (more_requests == 0) {
    return emit_line(level_enum::warn, "ingest_queue_refused", fields,
                     fmt::format("ingest: the queue refused {} records: {}", e.records, e.error));
  }
  fields.number("more_refused_requests", more_requests).number("more_refused_records", more_records);
  emit_line(level_enum::warn, "ingest_queue_refused", fields,
            fmt::format("ingest: the queue refused {} records: {} ({} more request{} refused since the last such line, "
                        "{} records)",
                        e.records, e.error, more_requests, more_requests == 1 ? "" : "s", more_records));
}

void IngestEvents::emit(const IngestQueueStored& e) const {
  if (!refusals_->untold.load(std::memory_order_relaxed)) return;  // the usual case: no lock on a commit
  const auto at = e.at == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::now() : e.at;
  std::uint64_t requests = 0, records = 0;
  std::string error;
  {
    std::lock_guard lock(refusals_->mutex);
    if (refusals_->requests == 0) return;
    // A queue that fails and recovers again and again would write a line per recovery: one every kRefusedLineEvery.
    if (refusals_->last_stored_line && at - *refusals_->last_stored_line < kRefusedLineEvery) return;
    requests = std::exchange(refusals_->requests, 0);
    records = std::exchange(refusals_->records, 0);
    error = std::exchange(refusals_->last_error, {});
    refusals_->untold.store(false, std::memory_order_relaxed);
    refusals_->last_stored_line = at;
  }
  tell_refusals_since_last_line(requests, records, error, /*at_the_end=*/false);
}

void IngestEvents::emit(const IngestAnswerHeld&) const {
  if (slowed_answers_ != nullptr) slowed_answers_->inc();
}

void IngestEvents::emit(const IngestRejectedEventsKept& e) const {
  if (e.events == 0 || !spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.number("events", static_cast<std::uint64_t>(e.events));
  emit_line(level_enum::debug, "ingest_rejected_events_kept", fields,
            fmt::format("ingest: {} rejected events kept for replay (dead-letter list --events)", e.events));
}

void IngestEvents::emit(const IngestRejectedEventsDropped& e) const {
  if (e.events == 0) return;
  if (rejected_dropped_ != nullptr) rejected_dropped_->inc(e.events);
  EventFields fields;
  fields.number("events", e.events);
  emit_line(level_enum::warn, "ingest_rejected_events_dropped", fields,
            fmt::format("ingest: the rejected-events store is full (queue.max_rejected_events): dropped the {} oldest; "
                        "replay them (dead-letter replay --events) or raise the bound",
                        e.events));
}

void IngestEvents::emit(const IngestCorsRefused& e) const {
  if (cors_refused_ != nullptr) cors_refused_->inc();
  // Debug: a page on a wrong origin sends on every page view; the counter says it happens, this line from where.
  if (!spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.user_text("origin", e.origin.substr(0, 256)).flag("preflight", e.preflight);
  emit_line(level_enum::debug, "ingest_cors_refused", fields,
            fmt::format("ingest: origin {} is not in the source's allowed_origins: no CORS headers sent{}",
                        fields["origin"], e.preflight ? " (preflight)" : ""));
}

}  // namespace omt::obs
