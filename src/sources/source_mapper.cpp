// The order of a source's own stages around the rudder-transformer mapping: first what decides whether an
// event is sent at all, then what builds records the transformer has no table for, then the transformer, then
// what rewrites its record.
#include "omt/sources/source_mapper.hpp"

#include <simdjson.h>

#include "sources/orders_stage.hpp"

namespace omt::sources {

Expected<Mapped> map_event(const ometria::Transformer& transformer, const simdjson::dom::element& event,
                           const config::SourceConfig& source) {
  const auto& orders = source.mapping.orders;
  auto record = transformer.transform(event, source.destination, order_tables(transformer.tables(), orders));
  if (!record) return tl::unexpected(std::move(record.error()));
  if (auto rewritten = rewrite_order(*record, orders, transformer.tables()); !rewritten)
    return tl::unexpected(std::move(rewritten.error()));
  return Mapped{std::move(*record), std::nullopt};
}

}  // namespace omt::sources
