#include "omt/obs/ometria_errors_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

OmetriaErrorEvents::OmetriaErrorEvents(Registry& metrics) : metrics_(metrics) {}

Counter& OmetriaErrorEvents::errors(const std::string& fingerprint, bool matched) {
  auto key = std::make_pair(fingerprint, matched);
  auto it = errors_.find(key);
  if (it == errors_.end()) {
    auto& counter = metrics_.counter(
        "omt_ometria_errors_total",
        "Records Ometria rejected after accepting their push (GET /v2/push/_errors), by key fingerprint and whether "
        "they were matched to records delivery sent",
        {{"key", fingerprint}, {"matched", matched ? "true" : "false"}});
    it = errors_.emplace(std::move(key), &counter).first;
  }
  return *it->second;
}

Counter& OmetriaErrorEvents::polls(std::string_view outcome) {
  return metrics_.counter("omt_ometria_errors_polls_total", "Reads of GET /v2/push/_errors by outcome",
                          {{"outcome", std::string(outcome)}});
}

void OmetriaErrorEvents::emit(const OmetriaErrorListed& e) {
  const std::string fingerprint = key_fingerprint(e.api_key);
  errors(fingerprint, e.matched).inc(e.occurrences);
  EventFields fields;
  fields.text("key", fingerprint).user_text("error_message", e.message).user_text("error_path", e.path);
  if (e.record_id) fields.user_text("record_id", *e.record_id);
  if (e.request_id) fields.user_text("request_id", *e.request_id);
  fields.number("occurrences", std::uint64_t{e.occurrences}).flag("matched", e.matched);
  std::string ours = "; not matched to a push of this run";
  if (e.matched) {
    fields.user_text("matched_request_id", e.matched_request_id).text("matched_type", e.matched_type)
        .number("matched_records", std::uint64_t{e.matched_records});
    if (!e.first_matched_record.empty()) fields.user_text("matched_record_id", e.first_matched_record);
    ours = e.matched_records == 1
               ? fmt::format("; {} record {} of push {}", e.matched_type, fields["matched_record_id"],
                             fields["matched_request_id"])
               : fmt::format("; one of the {} {} records of push {}", e.matched_records, e.matched_type,
                             fields["matched_request_id"]);
  }
  emit_line(level_enum::warn, "ometria_error_listed", fields,
            fmt::format("delivery: Ometria rejected {}a record of key {} after accepting it: {} (at {}){} "
                        "(see `ometria-transformer dead-letter list --ometria-errors`)",
                        e.occurrences > 1 ? fmt::format("{} times ", e.occurrences) : std::string(), fingerprint,
                        fields["error_message"], fields["error_path"].empty() ? "?" : fields["error_path"], ours));
}

void OmetriaErrorEvents::emit(const OmetriaErrorsPolled& e) {
  polls("ok").inc();
  if (!spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).number("listed", std::uint64_t{e.listed})
      .number("new", std::uint64_t{e.new_errors}).number("ignored", std::uint64_t{e.ignored});
  emit_line(level_enum::debug, "ometria_errors_polled", fields,
            fmt::format("delivery: Ometria lists {} errors for key {} ({} new{})", e.listed, fields["key"],
                        e.new_errors, e.ignored > 0 ? fmt::format(", {} unreadable or over the limit", e.ignored) : ""));
}

void OmetriaErrorEvents::emit(const OmetriaErrorsPollFailed& e) {
  polls("failed").inc();
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("status", e.status).user_text("detail", e.detail);
  emit_line(level_enum::warn, "ometria_errors_poll_failed", fields,
            fmt::format("delivery: could not read Ometria's errors for key {}: {}{}; trying again at the next poll",
                        fields["key"], e.status, e.detail.empty() ? std::string() : fmt::format(" ({})", fields["detail"])));
}

void OmetriaErrorEvents::emit(const OmetriaErrorsNotStored& e) {
  EventFields fields;
  fields.text("key", key_fingerprint(e.api_key)).text("error", e.error);
  emit_line(level_enum::err, "ometria_errors_not_stored", fields,
            fmt::format("delivery: the errors Ometria listed for key {} could not be kept: {}", fields["key"], e.error));
}

}  // namespace omt::obs
