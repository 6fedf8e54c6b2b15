// Which configured sources an API key in the queue belongs to, told the same way wherever a queued or held key
// is shown (/health, `queue stats`, the start-up warning). Records keep the key they were accepted under (a key
// names an Ometria account), so a key that no source has any more is "an old key" until an operator moves its
// records (`queue rekey`) or gives them up (`queue release`). Pure: reads only the sources given.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "omt/config/config.hpp"

namespace omt::service {

// The names of the sources whose current Ometria key (destination.api_key) this is, in configuration order.
std::vector<std::string> sources_with_key(const std::vector<config::SourceConfig>& sources, std::string_view api_key);

// The same for a key known only by its fingerprint (obs::key_fingerprint), as the held-key snapshots give it.
std::vector<std::string> sources_with_fingerprint(const std::vector<config::SourceConfig>& sources,
                                                  std::string_view fingerprint);

// Such names as one text: "web", "web, app", or "no source (an old key)" when there are none.
std::string describe_key_sources(const std::vector<std::string>& names);

}  // namespace omt::service
