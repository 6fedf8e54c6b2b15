// Internal: the one lookup of a member of a parsed JSON object, with JavaScript's duplicate-key rule.
// JSON.parse keeps the last value of a duplicated key, so every reader of an event (ingest, the transform,
// the mapping engine) takes the last one too: the same body can never mean two things in two places.
// simdjson's at_key/find_field take the first and must not be used for that reason.
#pragma once

#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <simdjson.h>

namespace omt::json {

// The value of `key` in `object` (the last one when the key is duplicated); nullopt when `object` is not an
// object or has no such key. Keys are compared byte for byte, as already unescaped by simdjson.
// The hottest loop of every transform: the key's length (on the tape beside its text) and first byte decide
// most members without a call to memcmp, and a value is made only for a match.
inline std::optional<simdjson::dom::element> member(simdjson::dom::element object, std::string_view key) {
  simdjson::dom::object fields;
  if (object.get(fields) != simdjson::SUCCESS) return std::nullopt;
  std::optional<simdjson::dom::element> found;
  const auto end = fields.end();
  for (auto field = fields.begin(); field != end; ++field) {
    if (field.key_length() != key.size()) continue;
    const char* text = field.key_c_str();
    if (key.empty() || (text[0] == key[0] && std::memcmp(text, key.data(), key.size()) == 0)) found = field.value();
  }
  return found;
}

// Every member of one object by key, for many lookups in the same object (a compacted body's destinations):
// the answers member() gives, last duplicate included, without a scan of the whole object per lookup.
class MemberIndex {
 public:
  explicit MemberIndex(simdjson::dom::object object) {
    for (auto field : object) members_.insert_or_assign(field.key, field.value);
  }
  std::optional<simdjson::dom::element> find(std::string_view key) const {
    const auto found = members_.find(key);
    if (found == members_.end()) return std::nullopt;
    return found->second;
  }

 private:
  std::unordered_map<std::string_view, simdjson::dom::element> members_;
};

}  // namespace omt::json
