// Internal: reads a `sources` entry's own mapping settings (omt/sources/settings.hpp) with the config reader, so
// that their errors name the full key ("sources[0].namespaces.customer") like every other setting's.
#pragma once

#include "config/reader.hpp"
#include "omt/sources/settings.hpp"

namespace omt::sources {

// Marks the keys it knows on `source` (the entry's reader), so that its done() refuses only unknown ones.
void read_settings(config::detail::ObjectReader& source, Settings& out);

}  // namespace omt::sources
