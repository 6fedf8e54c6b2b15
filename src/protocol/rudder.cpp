// Placeholder until the protocol layer lands.
#include "omt/protocol/rudder.hpp"

namespace omt::protocol {
bool is_known_destination(std::string_view name) { return name == "ometria"; }
Reply unknown_destination(std::string_view name) {
  return Reply{404, "{\"error\":\"Unknown destination: " + std::string(name) + "\"}", false};
}
Reply processor_transform(std::string_view, const ometria::Transformer&, EventTally*) { return Reply{501, "{}", true}; }
Reply router_transform(std::string_view, const ometria::Transformer&, EventTally*) { return Reply{501, "{}", true}; }
std::string features_json() { return "{}"; }
}  // namespace omt::protocol
