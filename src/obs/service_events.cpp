#include "omt/obs/service_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

void emit(const ServiceStarting& e) {
  EventFields fields;
  fields.text("version", e.version).number("open_file_limit", e.open_file_limit);
  emit_line(level_enum::info, "service_starting", fields,
            fmt::format("ometria-transformer {} starting; open file limit {}", e.version, e.open_file_limit));
}

void emit(const MappingsLoaded& e) {
  EventFields fields;
  fields.text("directory", e.directory).text("chosen_by", e.chosen_by);
  emit_line(level_enum::info, "mappings_loaded", fields,
            fmt::format("mappings loaded from {} ({})", e.directory, e.chosen_by));
}

void emit(const MappingsFailed& e) {
  EventFields fields;
  fields.text("directory", e.directory).text("error", e.error);
  emit_line(level_enum::critical, "mappings_failed", fields,
            fmt::format("cannot load the mappings from {}: {}", fields["directory"], fields["error"]));
}

void emit(const StartUpFailed& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::critical, "start_up_failed", fields, fields["error"]);
}

void emit(const StopSignalled& e) {
  EventFields fields;
  fields.text("signal", e.signal).number("deadline_ms", static_cast<std::int64_t>(e.deadline.count()));
  emit_line(level_enum::info, "stop_signalled", fields,
            fmt::format("received {}; shutting down (deadline {} ms)", e.signal, e.deadline.count()));
}

void emit(const RequestsCutOff&) {
  emit_line(level_enum::warn, "requests_cut_off", EventFields{}, "some requests were cut off at the shutdown deadline");
}

void emit(const DelayedCallThrew& e) {
  EventFields fields;
  fields.user_text("error", e.what);
  emit_line(level_enum::err, "delayed_call_threw", fields, fmt::format("a delayed call threw: {}", fields["error"]));
}

}  // namespace omt::obs
