// The config's value syntax, one parser per kind: addresses ("HOST:PORT"), durations ("250ms"), sizes
// ("32MiB") and secrets from the environment ({"env": NAME}). Pure (the environment's answer is passed in);
// never throws. The messages are the ones the config's errors carry after the key ("server.listen: ...").
// Surrounding ASCII white space is ignored in durations and sizes (text::trim).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "omt/error.hpp"

namespace omt::config {

// "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces).
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
Expected<HostPort> parse_host_port(std::string_view text);
// "250ms", "30s", "2m" (a bare number is milliseconds).
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);
// "1024", "8KiB", "32MiB", "1GiB" (also KB/MB/GB as powers of 1000).
Expected<std::size_t> parse_size(std::string_view text);
// A secret given as {"env": NAME}: the variable's value, which must be set and non-empty. `value` is the
// environment's answer (getenv's, null when unset): the lookup stays with the caller, so this is pure.
Expected<std::string> secret_from_environment(std::string_view name, const char* value);

}  // namespace omt::config
