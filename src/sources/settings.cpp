// Reads each feature's settings of a `sources` entry: one call per feature, in the order the docs list them.
#include "sources/settings_reader.hpp"

#include "sources/orders_stage.hpp"

namespace omt::sources {

void read_settings(config::detail::ObjectReader& source, Settings& out) { read_order_settings(source, out.orders); }

}  // namespace omt::sources
