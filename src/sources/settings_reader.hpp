// Internal: reads a `sources` entry's own mapping settings (omt/sources/settings.hpp) with the config reader, so
// that their errors name the full key ("sources[0].namespaces.customer") like every other setting's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/reader.hpp"
#include "omt/sources/settings.hpp"

namespace omt::sources {

// Marks the keys it knows on `source` (the entry's reader), so that its done() refuses only unknown ones.
void read_settings(config::detail::ObjectReader& source, Settings& out);

// A list of non-empty strings under `key` (what: "consent ids", in the error); true when the key is present.
bool read_string_list(config::detail::ObjectReader& reader, std::string_view key, std::vector<std::string>& out,
                      std::string_view what);

}  // namespace omt::sources
