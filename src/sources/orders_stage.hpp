// Internal: a source's order stages (omt/sources/orders.hpp): its settings read from its `sources` entry, the
// tables its events are mapped with (the seed's plus mappings/own_orders.json), and the rewrite of the order
// records the transformer makes from them (lifecycle: @merge, status, is_valid; which currency's fields stay).
#pragma once

#include "config/reader.hpp"
#include "mapping/own_orders.hpp"
#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/orders.hpp"

namespace omt::sources {

void read_order_settings(config::detail::ObjectReader& source, OrderSettings& out);

// The tables a source's events are mapped with: own_orders.json's, with the lifecycle's event names when it is on.
const mapping::TableSet& order_tables(const mapping::TableSet& seed, const OrderSettings& settings);

// The edit (for Transformer::transform) that makes an order record mapped with order_tables() what the source's
// settings want sent; records of other types are left as they are. It refers to `settings` and `seed`, which
// must outlive it. Empty when the seed has no own order tables.
ometria::RecordEdit order_rewrite(const OrderSettings& settings, const mapping::TableSet& seed);

}  // namespace omt::sources
