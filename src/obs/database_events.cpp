#include "omt/obs/database_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

void emit(const QueueDatabaseUnavailable& e) {
  EventFields fields;
  // The queue's own words about its connection or file (as queue_transaction_failed): redact_pii would take
  // "omt@127.0.0.1" in a server's name for an e-mail address.
  fields.text("backend", e.backend).text("error", e.error);
  if (e.reconnects) fields.number("retry_in_ms", static_cast<std::int64_t>(e.retry_in.count()));
  std::string how = "operations fail meanwhile (ingest answers 503)";
  if (e.reconnects) {
    how = e.retry_in.count() > 0
              ? fmt::format("operations fail at once meanwhile (ingest answers 503), reconnecting with backoff (next "
                            "attempt in {} ms)", e.retry_in.count())
              : "operations fail at once meanwhile (ingest answers 503), reconnecting with backoff (next attempt with "
                "the next operation)";
  }
  emit_line(level_enum::err, "queue_database_unavailable", fields,
            fmt::format("queue: the {} database is unavailable: {}; {}", e.backend, fields["error"], how));
}

void emit(const QueueDatabaseBack& e) {
  EventFields fields;
  fields.text("backend", e.backend).number("down_for_ms", static_cast<std::int64_t>(e.down_for.count()));
  if (e.attempts > 0) fields.number("attempts", e.attempts);
  const std::string attempts =
      e.attempts > 0 ? fmt::format(" ({} failed attempts to connect)", e.attempts) : std::string();
  emit_line(level_enum::info, "queue_database_back", fields,
            fmt::format("queue: the {} database answers again after {} ms{}", e.backend, e.down_for.count(), attempts));
}

DatabaseEvents::DatabaseEvents(Registry& metrics)
    : up_(metrics.gauge("omt_queue_database_up",
                        "1 while the queue's database answers, 0 while it cannot be reached (as the last operations found it)")),
      round_trips_(metrics.counter("omt_queue_database_round_trips_total",
                                   "Answers the queue awaited from its database server (each statement sent; 0 on SQLite)")) {
  up_.set(1);
}

void DatabaseEvents::emit(const QueueDatabaseSeen& e) {
  up_.set(e.up ? 1 : 0);
  round_trips_.raise_to(e.round_trips);  // the queue keeps the total
}

}  // namespace omt::obs
