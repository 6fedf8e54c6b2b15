#include "omt/obs/queue_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

void emit(const QueueRecordsMigrated& e) {
  EventFields fields;
  fields.number("records", e.records);
  emit_line(level_enum::info, "queue_records_migrated", fields,
            fmt::format("queue: moved {} records into chunks (the queue's new layout)", e.records));
}

void emit(const QueueRejectedEventsReplayed& e) {
  EventFields fields;
  fields.number("enqueued", e.enqueued)
      .number("still_rejected", e.still_rejected)
      .number("skipped", e.skipped)
      .number("unknown_source", e.unknown_source)
      .number("gone", e.gone);
  emit_line(level_enum::info, "rejected_events_replayed", fields,
            fmt::format("queue: rejected events replayed: {} became records, {} still fail, {} skipped, {} from sources "
                        "no longer configured (kept), {} no longer stored",
                        e.enqueued, e.still_rejected, e.skipped, e.unknown_source, e.gone));
}

void emit(const QueueChunkQuarantined& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("type", e.type).text("reason", e.reason);
  emit_line(level_enum::err, "queue_chunk_quarantined", fields,
            fmt::format("queue: {} (key {}, type {}); moved to the dead-letter store so the rest can flow",
                        fields["reason"], fields["key"], fields["type"]));
}

void emit(const QueueTransactionFailed& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::err, "queue_transaction_failed", fields, fields["error"]);
}

void emit(const QueueRollbackFailed& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::err, "queue_rollback_failed", fields, fields["error"]);
}

void emit(const QueueCallbackThrew& e) {
  EventFields fields;
  if (!e.what) {
    emit_line(level_enum::err, "queue_callback_threw", fields, "queue: a completion callback threw");
    return;
  }
  fields.user_text("error", *e.what);
  emit_line(level_enum::err, "queue_callback_threw", fields,
            fmt::format("queue: a completion callback threw: {}", fields["error"]));
}

}  // namespace omt::obs
