// A source's order settings (docs/sources.md "Orders"): the order lifecycle (events that update one order record
// with @merge, its status and is_valid), the valid statuses, and in which currency line items are sent. Orders of
// a source of our own always read the e-commerce spec's names too (mappings/own_orders.json).
#pragma once

#include <string>
#include <vector>

namespace omt::sources {

// Seed 004's "Currency Type": line items in the local currency (the one sold in), the base (the account's
// reporting currency), or both; the order total is always in local currency.
enum class OrderCurrency { local, base, both };

struct OrderSettings {
  bool lifecycle = false;                   // "order_lifecycle"
  std::vector<std::string> valid_statuses;  // "valid_order_statuses"; empty: every status is valid
  OrderCurrency currency = OrderCurrency::local;  // "order_currency"
};

}  // namespace omt::sources
