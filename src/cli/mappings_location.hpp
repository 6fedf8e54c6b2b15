// Where the mapping tables are when neither --mappings, the config's mappings_dir nor OMT_MAPPINGS_DIR says:
// found from the running binary, so an installed copy uses its own tables and never the source tree.
//   <prefix>/bin/ometria-transformer  ->  <prefix>/share/ometria-transformer/mappings   (cmake --install)
//   <build>/ometria-transformer       ->  the source tree's mappings/                   (a build tree only)
#pragma once

#include <filesystem>
#include <string>

namespace omt::cli {

// The folder to load, and how it was chosen (for the start-up log and check-config): "OMT_MAPPINGS_DIR",
// "installed beside the binary" or "the build's source tree". Never fails: a folder that does not exist is
// returned as it is and its load then fails with the path in the message.
struct MappingsLocation {
  std::filesystem::path directory;
  std::string chosen_by;
};
MappingsLocation default_mappings_location();

// An explicit choice (flag or config) when there is one, else default_mappings_location().
MappingsLocation mappings_location(const std::filesystem::path& explicit_dir, std::string explicit_by);

}  // namespace omt::cli
