// Internal: a source's custom-event stages (docs/sources.md, "Custom events"): its settings read from the
// `sources` entry, whether a track event that would become a custom event is one the source sends, and the
// rewrite of a custom event's properties.products[] into the product-id list Ometria's templates expand.
#pragma once

#include <optional>

#include "config/reader.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/custom_events.hpp"
#include "omt/sources/source_mapper.hpp"

namespace omt::sources {

// "custom_events": {"allow": [names]} or {"deny": [names]} (not both), "product_ids": bool.
void read_custom_events(config::detail::ObjectReader& source, CustomEventSettings& out);

// A Skip (outcome skip_not_allowed) for a track event the transformer would make a custom event of (by the
// source's tables: its order lifecycle names are orders) and the
// lists leave out; nullopt for every other event.
std::optional<Skip> custom_event_skip(const ometria::Transformer& transformer, const mapping::TableSet& tables,
                                      const simdjson::dom::element& event,
                                      const CustomEventSettings& settings);

// With product_ids on, a custom_event record's properties.products (an array) becomes properties.product_id: the
// id of each product (product_id, else sku, else id), in order, each once. Other records, a record without
// products or with a product_id of its own, or products without ids, stay as they are.
void list_product_ids(ometria::Record& record, const CustomEventSettings& settings);

}  // namespace omt::sources
