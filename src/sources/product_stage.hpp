// Internal: the products stage of map_event (omt/sources/products.hpp) and the reader of its settings.
#pragma once

#include <optional>

#include "config/reader.hpp"
#include "mapping/table.hpp"
#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/products.hpp"

namespace omt::sources {

struct ProductRecord {
  ometria::Record record;
  std::optional<IncompleteProduct> incomplete;  // set for a complete product record that lacks what it needs
};

// nullopt: the event is not one of the source's product or stock events. Otherwise its product record, or why
// it can never become one (the mapping's messages, as the transformer's).
std::optional<Expected<ProductRecord>> product_record(const mapping::TableSet& tables, const simdjson::dom::element& event,
                                                      const ProductSettings& settings);

// "product_events" and "stock_events": lists of event names; a name in both is refused.
void read_product_settings(config::detail::ObjectReader& source, ProductSettings& out);

}  // namespace omt::sources
