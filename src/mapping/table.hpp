// Internal: the mapping tables as the loader builds them from mappings/*.json (format in mappings/README.md)
// and the applier reads them. Plain values: once loaded, a TableSet is never changed and is shared by every
// thread. Source paths are split into segments at load time, never per event.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omt::mapping {

// How many distinct parent paths ("context.traits", and "" for the event itself) the loader interns for Source's
// per-event cache, and how many distinct (parent, last segment) pairs it gives a slot.
inline constexpr int max_interned_parents = 32;
inline constexpr int max_leaf_slots = 256;

struct SourcePath {
  std::string text;                   // "context.traits.email"
  std::vector<std::string> segments;  // {"context", "traits", "email"}
  int parent_id = -1;                 // the interned parent path ("context.traits"), for Source's cache; -1: none
  int slot = -1;                      // the (parent, "email") pair's slot, filled by Source's one pass; -1: none
};

// The last segments the tables read in one interned parent, each with its slot: Source reads a parent's members
// once and fills the slots of every key the tables can ask for there.
struct ParentLeaves {
  struct Leaf {
    std::string key;
    int slot;
  };
  static constexpr std::size_t longest_bucket = 64;  // keys this long or longer share the last bucket
  std::vector<Leaf> leaves;  // by key length
  // leaves[by_length[n] .. by_length[n + 1]) are the keys of length n (of length >= longest_bucket for the last).
  std::array<std::uint16_t, longest_bucket + 2> by_length{};
};

enum class Validator { none, e164, iso8601, iso4217, boolean };
enum class OnInvalid { drop, fail };
enum class Transform { trim, upper, lower };

struct ValueMapEntry {
  std::string to;
  std::vector<std::string> from;
};

struct Rule {
  std::string to;
  std::vector<SourcePath> from;  // in order of precedence
  std::string sources_json;      // JSON.stringify(sourceKeys), for "Missing required value from ..."
  bool required = false;
  bool keep_empty = false;  // a single path read raw: null and "" are kept (addressMapper's city/state)
  // A fallback for a key an earlier rule may have left empty: applies only when the key is not truthy yet; its one
  // path is read raw (anything but null, as `payload.id = message.messageId` assigns it) and set in place or
  // appended here; with no value, an empty earlier value is removed (JavaScript's undefined is not written).
  bool if_empty = false;
  bool must_be_string = false;
  std::vector<ValueMapEntry> value_map;  // empty: no map; a value not listed is dropped
  std::vector<Transform> transforms;
  Validator validator = Validator::none;
  OnInvalid on_invalid = OnInvalid::drop;
  std::string error;     // message when on_invalid == fail
  std::string position;  // "contact.json fields[3] (to \"phone_number\")"
};

struct RuleList {
  std::vector<Rule> rules;
  const Rule* find(std::string_view to) const {
    for (const auto& rule : rules)
      if (rule.to == to) return &rule;
    return nullptr;
  }
};

// extractCustomFields: every key of the objects at `from` (or of the object itself when root) that is not
// excluded, copied with null and "" kept, later paths overwriting earlier ones, dotted keys nested.
struct CustomFields {
  std::vector<SourcePath> from;
  bool root = false;
  std::vector<std::string> exclude;  // sorted by sort_exclude(), which every writer of the list calls last

  // Sorts `exclude` and indexes it by first byte and length, so that most keys are let through without a compare,
  // and the rest are compared only with the few excluded keys of their first byte.
  void sort_exclude() {
    std::sort(exclude.begin(), exclude.end());
    exclude_lengths = {};
    excludes_empty_ = false;
    for (const auto& key : exclude)
      if (key.empty()) excludes_empty_ = true;
      else if (key.size() < 64) exclude_lengths[static_cast<unsigned char>(key[0])] |= std::uint64_t{1} << key.size();
    // Sorted, the keys of one first byte are contiguous (after any empty one).
    std::size_t i = 0;
    while (i < exclude.size() && exclude[i].empty()) ++i;
    for (std::size_t c = 0; c < 256; ++c) {
      exclude_from_[c] = i;
      while (i < exclude.size() && static_cast<unsigned char>(exclude[i][0]) == c) ++i;
    }
    exclude_from_[256] = i;
  }
  bool excludes(std::string_view key) const {
    if (key.empty()) return excludes_empty_;
    const auto first = static_cast<unsigned char>(key[0]);
    if (key.size() < 64 && !(exclude_lengths[first] & (std::uint64_t{1} << key.size()))) return false;
    for (std::size_t i = exclude_from_[first]; i < exclude_from_[first + 1]; ++i)
      if (exclude[i] == key) return true;  // the sizes first, then the bytes
    return false;
  }

 private:
  // By a key's first byte: bit n set when some excluded key of length n (below 64) starts with that byte.
  std::array<std::uint64_t, 256> exclude_lengths{};
  // By a first byte c: the excluded keys starting with c are exclude[exclude_from_[c], exclude_from_[c + 1]).
  std::array<std::size_t, 257> exclude_from_{};
  bool excludes_empty_ = false;
};

struct MappingFile {
  std::string name;  // "contact.json"
  std::map<std::string, RuleList, std::less<>> lists;  // "fields", and e.g. "customer", "address"
  std::optional<CustomFields> custom_fields;
  std::vector<std::pair<std::string, std::string>> statuses;  // order event name -> status
  std::vector<std::pair<std::string, bool>> stock_events;      // product.json: stock event name -> is_in_stock
  // Every list the file's shape requires exists once loaded.
  const RuleList& list(std::string_view list_name) const { return lists.find(list_name)->second; }
};

// userId, firstName, ... -> their source paths (generic.json).
using GenericLookups = std::map<std::string, std::vector<SourcePath>, std::less<>>;

struct OwnOrderTables;  // mapping/own_orders.hpp

struct TableSet {
  MappingFile contact, custom_event, order, lineitems, variant;
  MappingFile product;  // a source's own table (omt/sources/products.hpp): never read by the transformer
  GenericLookups generic;
  // By SourcePath::parent_id: the keys read below each parent (built with the ids, by the loader).
  std::vector<ParentLeaves> parent_leaves;
  // The order tables of the service's own sources (own_orders.json on top of these); null in its own copies.
  std::shared_ptr<const OwnOrderTables> own_orders;

  // The table loaded from `name` ("lineitems.json"), or null for a name that is not one of the tables.
  const MappingFile* file(std::string_view name) const {
    for (const MappingFile* f : {&contact, &custom_event, &order, &lineitems, &variant, &product})
      if (f->name == name) return f;
    return nullptr;
  }
};

}  // namespace omt::mapping
