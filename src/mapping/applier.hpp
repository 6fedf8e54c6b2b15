// Internal: applying a loaded table (mapping/table.hpp) to one event. apply() maps with rudder-transformer's
// constructPayload semantics, then runs the rules' type checks, transforms and validators in table order;
// extract_custom_fields() is extractCustomFields. Pure: no I/O, never throws on any event; a bad event is an
// Error with the contract's message. Output values borrow from the event and the tables (json/out_value.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "json/out_value.hpp"
#include "mapping/table.hpp"
#include "omt/error.hpp"

namespace omt::mapping {

// One event (or line item) being mapped. Remembers the objects that source paths pass through (context,
// context.traits, properties...) so that each is found once per event rather than once per path.
class Source {
 public:
  explicit Source(simdjson::dom::element root) : root_(root) {}
  simdjson::dom::element root() const { return root_; }
  std::optional<simdjson::dom::element> get(const SourcePath& path);

 private:
  simdjson::dom::element root_;
  std::array<std::uint8_t, max_interned_parents> state_{};  // 0 unknown, 1 found, 2 missing
  std::array<simdjson::dom::element, max_interned_parents> parents_{};
};

// get-value: walks objects (last duplicate key wins, as JSON.parse) and arrays (numeric segments).
std::optional<simdjson::dom::element> lookup(simdjson::dom::element root, const SourcePath& path);
// getValueFromMessage with a list: the first value that is not null and not "".
std::optional<simdjson::dom::element> first_qualifying(simdjson::dom::element root,
                                                        const std::vector<SourcePath>& paths);

// constructPayload + validation. Errors are the contract's messages.
Expected<json::OutObject> apply(const RuleList& rules, Source& source, json::Arena& arena);
inline Expected<json::OutObject> apply(const RuleList& rules, simdjson::dom::element root, json::Arena& arena) {
  Source source(root);
  return apply(rules, source, arena);
}

// extractCustomFields into a new object.
json::OutObject extract_custom_fields(const CustomFields& spec, Source& source);
inline json::OutObject extract_custom_fields(const CustomFields& spec, simdjson::dom::element root) {
  Source source(root);
  return extract_custom_fields(spec, source);
}

}  // namespace omt::mapping
