// The order of a source's own stages around the rudder-transformer mapping: first what decides whether an
// event is sent at all, then what builds records the transformer has no table for, then the transformer, then
// what rewrites its record.
#include "omt/sources/source_mapper.hpp"

#include <simdjson.h>

#include "sources/consent.hpp"
#include "sources/custom_events.hpp"
#include "sources/contact_id_stage.hpp"
#include "sources/namespace_stage.hpp"
#include "sources/orders_stage.hpp"
#include "sources/product_stage.hpp"

namespace omt::sources {

Expected<Mapped> map_event(const ometria::Transformer& transformer, const simdjson::dom::element& event,
                           const config::SourceConfig& source) {
  const Settings& settings = source.mapping;
  if (auto skip = consent_skip(event, settings.consent)) return Mapped{std::nullopt, std::move(skip), std::nullopt};
  // The tables its events are mapped with: the seed's, and its own order names and fields (own_orders.json).
  const mapping::TableSet& tables = order_tables(transformer.tables(), settings.orders);
  Mapped mapped;
  // 2. Records the transformer has no table for. A product event's name wins over the custom-event mapping.
  if (auto product = product_record(transformer.tables(), event, settings.products)) {
    if (!*product) return tl::unexpected(std::move(product->error()));
    mapped.record = std::move((*product)->record);
    mapped.incomplete_product = std::move((*product)->incomplete);
  } else {
    // After the stages that build records of their own: an event they take never becomes a custom event.
    if (auto skip = custom_event_skip(transformer, tables, event, settings.custom_events)) return Mapped{std::nullopt, std::move(skip), std::nullopt};
    // 3. The transformer, with the contact id the source chose for identifies that name none.
    std::optional<simdjson::dom::parser> rewrite_parser;
    simdjson::dom::element mapped_event = event;
    const auto rewritten = with_listing_id(transformer.tables(), event, settings.contact_ids);
    if (rewritten) {
      if (rewrite_parser.emplace().parse(*rewritten).get(mapped_event) != simdjson::SUCCESS)
        return fail(errc::transformation, "internal error: the event with its contact id is not valid JSON");
    }
    auto record = transformer.transform(mapped_event, source.destination, tables,
                                        order_rewrite(settings.orders, transformer.tables()));
    if (!record) return tl::unexpected(std::move(record.error()));
    mapped.record = std::move(*record);
  }
  // 4. What rewrites the record.
  list_product_ids(*mapped.record, settings.custom_events);
  if (auto done = apply_namespaces(*mapped.record, settings.namespaces); !done) return tl::unexpected(std::move(done.error()));
  if (mapped.incomplete_product) mapped.incomplete_product->id.insert(0, settings.namespaces.product);  // as sent
  return mapped;
}

}  // namespace omt::sources
