// Internal: the batch level of a /v1/batch body, found once per request and merged into each event that lacks
// some of it (ingest_events). The rule: omt/protocol/batch_merge.hpp. Elements point into the caller's document.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "json/out_value.hpp"
#include "omt/error.hpp"

namespace omt::protocol {

namespace dom = simdjson::dom;

constexpr std::array<std::string_view, 2> batch_level_keys = {"context", "integrations"};

// The batch-level objects found beside "batch" (null and absent are alike: nothing to merge).
struct BatchLevel {
  std::array<std::optional<dom::element>, batch_level_keys.size()> objects;  // each an object when present
  bool any() const {
    for (const auto& o : objects)
      if (o && json::as_object(*o).size() > 0) return true;
    return false;
  }
};

// The batch-level objects of `root` (the batch body); errc::invalid_request naming a key that is not an object.
Expected<BatchLevel> batch_level_of(dom::element root);
// True when the batch level adds something to this event: it lacks a batch-level key (or has null there), or
// its object there lacks some of the batch-level object's keys.
bool needs_merge(dom::element event, const BatchLevel& level);
// The event (an object) with the batch level merged in, as JSON text to parse again.
std::string merged_event(dom::element event, const BatchLevel& level);

// Compact JSON of a parsed value for parsing again (by merged_event and gateway_stamp): integers exactly as
// parsed, doubles in the shortest form that reads back the same.
void write_reparsable(std::string& out, dom::element e);

}  // namespace omt::protocol
