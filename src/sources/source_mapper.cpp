// The order of a source's own stages around the rudder-transformer mapping: first what decides whether an
// event is sent at all, then what builds records the transformer has no table for, then the transformer, then
// what rewrites its record.
#include "omt/sources/source_mapper.hpp"

#include <simdjson.h>

namespace omt::sources {

Expected<Mapped> map_event(const ometria::Transformer& transformer, const simdjson::dom::element& event,
                           const config::SourceConfig& source) {
  auto record = transformer.transform(event, source.destination);
  if (!record) return tl::unexpected(std::move(record.error()));
  return Mapped{std::move(*record), std::nullopt};
}

}  // namespace omt::sources
