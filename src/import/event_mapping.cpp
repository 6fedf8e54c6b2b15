#include "omt/import/event_mapping.hpp"

#include <simdjson.h>

#include "omt/core/text.hpp"
#include "omt/protocol/ingest.hpp"
#include "omt/sources/source_mapper.hpp"
#include "json/member.hpp"

namespace omt::import {

config::SourceConfig import_source(const config::SourceConfig& source, bool send_default_optin) {
  config::SourceConfig imported = source;
  if (!send_default_optin) imported.destination.marketing_optin.reset();
  return imported;
}

struct EventMapper::Parser {
  simdjson::dom::parser parser;
};

EventMapper::EventMapper(const ometria::Transformer& transformer, config::SourceConfig source)
    : transformer_(transformer), source_(std::move(source)), parser_(std::make_shared<Parser>()) {}

static_assert(event_text_padding >= simdjson::SIMDJSON_PADDING);

MappedEvent EventMapper::map(std::string_view event_json) { return map_text(event_json, true); }

MappedEvent EventMapper::map_string(const std::string& event_json) {
  return map_text(event_json, event_json.capacity() - event_json.size() < event_text_padding);
}

MappedEvent EventMapper::map_text(std::string_view event_json, bool copy) {
  MappedEvent out;
  simdjson::dom::element event;
  if (auto error = parser_->parser.parse(event_json.data(), event_json.size(), copy).get(event); error) {
    out.bad = Error{errc::invalid_json, std::string("not valid JSON: ") + simdjson::error_message(error), ""};
    return out;
  }
  if (!event.is_object()) {
    out.bad = Error{errc::invalid_request, "expected an event object (one event per line)", ""};
    return out;
  }
  // The call types ingest accepts and skips (protocol::skipped_call_types), compared as ingest compares them.
  if (const auto type = json::member(event, "type"); type && type->is_string()) {
    for (std::string_view skipped : protocol::skipped_call_types)
      if (text::iequals(type->get_string().value_unsafe(), skipped)) {
        out.skipped = std::string(skipped);
        return out;
      }
  }
  auto mapped = sources::map_event(transformer_, event, source_);
  if (!mapped) out.bad = std::move(mapped.error());
  else if (mapped->skip) out.skipped = std::move(mapped->skip->outcome);
  else out.record = std::move(*mapped->record);
  return out;
}

}  // namespace omt::import
