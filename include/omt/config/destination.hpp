// `transform --destination-config FILE`: RudderStack's Ometria destination settings (its destination.Config, or
// a whole destination {"Config": {...}}), checked by the same rules as a source's settings in the service's
// config. Each failure says which it is: "cannot open FILE: ...", "FILE is not JSON: line L column C: ...",
// "FILE: unknown key ..." or "FILE: marketingOptin: expected one of ...". Never throws.
#pragma once

#include <filesystem>
#include <string_view>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::config {

// The settings in `json_text`; `source` names it in errors (the file's name).
Expected<ometria::DestinationConfig> parse_destination_config(std::string_view json_text, std::string_view source);
// The settings in a file of at most 1 MiB.
Expected<ometria::DestinationConfig> read_destination_config(const std::filesystem::path& file);

}  // namespace omt::config
