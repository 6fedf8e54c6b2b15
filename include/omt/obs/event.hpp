// Named observability events, the common part. Every outcome worth telling an operator (a request served, an
// event rejected, a push delivered, a key held, a record dead-lettered, ...) is one struct in the
// obs/<area>_events.hpp header of its area, emitted through that area's events object, which writes its one log
// line and bumps its counters. Call sites never format log lines or touch counters themselves.
// This header gives the pieces each area builds on: the fields of an event (written as JSON members in the JSON
// log format, after "msg") and emit_line. Text that may carry user data is redacted by EventFields::user_text
// and by the area's message, once, in obs/; a key is only ever given as its fingerprint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

namespace omt::obs {

// The structured fields of one event, in the order they are written.
class EventFields {
 public:
  // Text known to carry no user data and no secret (a key fingerprint, a record type, a route).
  EventFields& text(std::string_view name, std::string_view value);
  // Text that may carry user data (an error detail, a path, an answer body): redacted here (redact_pii).
  EventFields& user_text(std::string_view name, std::string_view value);
  EventFields& number(std::string_view name, std::int64_t value);
  EventFields& number(std::string_view name, std::uint64_t value);
  EventFields& number(std::string_view name, int value) { return number(name, static_cast<std::int64_t>(value)); }
  EventFields& number(std::string_view name, double value);
  EventFields& flag(std::string_view name, bool value);

  struct Field {
    std::string name;
    std::string value;   // as written: already redacted; numbers and booleans in JSON form
    bool quoted = true;  // false: a number or boolean, written bare in JSON
  };
  const std::vector<Field>& fields() const { return fields_; }
  // The value of a field as written, empty when there is none (for messages and tests).
  std::string_view operator[](std::string_view name) const;

 private:
  std::vector<Field> fields_;
};

// Writes one log line at `level` if that level is enabled: the text format shows `message` alone (the lines
// users read stay as they were); the JSON format adds "event": `event` and every field after "msg".
// `message` must already be redacted (build it from the fields' values, or through redact_pii).
void emit_line(spdlog::level::level_enum level, std::string_view event, const EventFields& fields,
               std::string_view message);

namespace detail {
// The event whose line is being written on this thread, for the line formatter (nullptr: a plain line).
struct CurrentEvent {
  std::string_view name;
  const EventFields* fields = nullptr;
};
const CurrentEvent* current_event() noexcept;
}  // namespace detail

}  // namespace omt::obs
