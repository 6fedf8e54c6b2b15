// Internal: the order tables of the service's own sources (mappings/own_orders.json, format in
// mappings/README.md): the seed's order.json and lineitems.json with more source names for their fields (the
// e-commerce spec's and Shopify's), fields of their own (refunds, base / local currency) and the order lifecycle's
// event names. Built once at load from a loaded TableSet, which they never change: rudder-transformer keeps its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mapping/table.hpp"
#include "omt/error.hpp"

namespace omt::mapping {

// The prefixes of the currency twins own_orders.json adds: a source in local currency sends neither, in base
// currency no local_* (sources/orders.cpp).
inline constexpr std::string_view base_prefix = "base_", local_prefix = "local_";

struct OwnOrderTables {
  TableSet tables;            // every table, with order.json and lineitems.json extended
  TableSet lifecycle_tables;  // the same, order.statuses followed by the lifecycle's event names
  // tables and lifecycle_tables without the rules of the twins a source in local currency drops from its records,
  // so they are never looked up (rules that can refuse an event are kept: the same events are refused).
  TableSet local_tables, local_lifecycle_tables;
  std::vector<std::string> invalid_statuses;  // statuses that are never a valid order ("cancelled")
};

// own_orders.json's text over the loaded `seed`; errors name the file and the entry, as every mapping error.
Expected<std::shared_ptr<const OwnOrderTables>> parse_own_orders(const Expected<std::string>& text, const TableSet& seed);

}  // namespace omt::mapping
