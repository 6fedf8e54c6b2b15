// A source's custom-event settings: which track events that would become Ometria custom events it sends (an
// allow or a deny list of event names), and whether their products[] becomes a product-id list Ometria's
// templates can expand (docs/sources.md, "Custom events"). Read by src/sources/custom_events.cpp.
#pragma once

#include <string>
#include <vector>

namespace omt::sources {

struct CustomEventSettings {
  enum class List { none, allow, deny };
  List list = List::none;          // none: every custom event is sent
  std::vector<std::string> names;  // the allow or deny list, as event_type is written (trimmed, lower-cased)
  bool product_ids = false;        // properties.products[] -> properties.product_id: ["id", ...]
};

}  // namespace omt::sources
