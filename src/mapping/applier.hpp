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
// context.traits, properties...) so that each is found once per event rather than once per path; given the
// tables' parent_leaves, it also reads each such object's members once, filling the slots of every key the tables
// read there (the last duplicate winning, as json::member), rather than scanning the object once per path.
class Source {
 public:
  explicit Source(simdjson::dom::element root, const std::vector<ParentLeaves>* leaves = nullptr)
      : root_(root), leaves_(leaves) {}
  Source(const Source&) = delete;  // large, and only ever used where it is made
  Source& operator=(const Source&) = delete;
  simdjson::dom::element root() const { return root_; }
  std::optional<simdjson::dom::element> get(const SourcePath& path);

 private:
  enum : std::uint8_t { unknown, found, missing, slots_filled };
  void fill_slots(std::size_t parent);

  // Not default-constructed: a slot is written when its parent is read, before it is ever read itself.
  union Slot {
    Slot() {}
    simdjson::dom::element value;
  };

  simdjson::dom::element root_;
  const std::vector<ParentLeaves>* leaves_;  // may be null: every path is then found by scanning its parent
  std::array<std::uint8_t, max_interned_parents> state_{};
  std::array<simdjson::dom::element, max_interned_parents> parents_{};
  std::array<bool, max_leaf_slots> slot_found_;  // set with the slot, as the slot
  std::array<Slot, max_leaf_slots> slots_;
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
