// An imported event made into its Ometria record exactly as ingest makes one for the same source: the call types
// Ometria has no record for (page, screen, group, alias) are skipped, then sources::map_event (the source's own
// stages around rudder-transformer's mapping). Two differences, both on purpose: the gateway's arrival stamps are
// not applied (history was stamped when it first arrived; "now" would be wrong), and the source's configured
// default marketing_optin is not sent (OMETRIA_RECORDS.md, backfill hazard 2) unless the import is told to.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "omt/config/config.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::import {

// The source as an import maps its events: its default opt-in dropped unless send_default_optin.
config::SourceConfig import_source(const config::SourceConfig& source, bool send_default_optin);

struct MappedEvent {
  std::optional<ometria::Record> record;  // set, or one of the two below
  std::optional<std::string> skipped;     // the outcome it is skipped under ("page", "no_consent", ...)
  std::optional<Error> bad;               // cannot be transformed: path names the field, message the reason
};

// The room a text may leave after its end for map_string to parse it where it is: the JSON parser reads up to
// this far past the end (it would otherwise copy every event into a buffer of its own first).
inline constexpr std::size_t event_text_padding = 64;

// Not thread-safe (one parser, reused for every event); one per reading thread.
class EventMapper {
 public:
  EventMapper(const ometria::Transformer& transformer, config::SourceConfig source);
  MappedEvent map(std::string_view event_json);
  // The same; parsed in place when the string's capacity leaves event_text_padding bytes after its text.
  MappedEvent map_string(const std::string& event_json);
  // The same transformer and source with a parser of its own: one for each thread that maps.
  EventMapper another() const { return EventMapper(transformer_, source_); }
  const config::SourceConfig& source() const { return source_; }

 private:
  MappedEvent map_text(std::string_view event_json, bool copy);
  const ometria::Transformer& transformer_;
  config::SourceConfig source_;
  struct Parser;
  std::shared_ptr<Parser> parser_;
};

}  // namespace omt::import
