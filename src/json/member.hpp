// Internal: the one lookup of a member of a parsed JSON object, with JavaScript's duplicate-key rule.
// JSON.parse keeps the last value of a duplicated key, so every reader of an event (ingest, the transform,
// the mapping engine) takes the last one too: the same body can never mean two things in two places.
// simdjson's at_key/find_field take the first and must not be used for that reason.
#pragma once

#include <optional>
#include <string_view>

#include <simdjson.h>

namespace omt::json {

// The value of `key` in `object` (the last one when the key is duplicated); nullopt when `object` is not an
// object or has no such key. Keys are compared byte for byte, as already unescaped by simdjson.
inline std::optional<simdjson::dom::element> member(simdjson::dom::element object, std::string_view key) {
  simdjson::dom::object fields;
  if (object.get(fields) != simdjson::SUCCESS) return std::nullopt;
  std::optional<simdjson::dom::element> found;
  for (auto field : fields)
    if (field.key == key) found = field.value;
  return found;
}

}  // namespace omt::json
