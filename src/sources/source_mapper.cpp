// The order of a source's own stages around the rudder-transformer mapping: first what decides whether an
// event is sent at all, then what builds records the transformer has no table for, then the transformer, then
// what rewrites its record.
#include "omt/sources/source_mapper.hpp"

#include <simdjson.h>

#include "sources/consent.hpp"
#include "sources/custom_events.hpp"

namespace omt::sources {

Expected<Mapped> map_event(const ometria::Transformer& transformer, const simdjson::dom::element& event,
                           const config::SourceConfig& source) {
  const Settings& settings = source.mapping;
  if (auto skip = consent_skip(event, settings.consent)) return Mapped{std::nullopt, std::move(skip)};
  // After the stages that build records of their own: an event they take never becomes a custom event.
  if (auto skip = custom_event_skip(transformer, event, settings.custom_events)) return Mapped{std::nullopt, std::move(skip)};
  auto record = transformer.transform(event, source.destination);
  if (!record) return tl::unexpected(std::move(record.error()));
  list_product_ids(*record, settings.custom_events);
  return Mapped{std::move(*record), std::nullopt};
}

}  // namespace omt::sources
