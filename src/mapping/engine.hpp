// Internal: the table-driven mapping engine. Mapping files (mappings/*.json, format in mappings/README.md) are
// loaded and validated once; source paths are pre-split; apply() maps one event with rudder-transformer's
// constructPayload semantics, then runs the rules' type checks, transforms and validators in table order.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/out_value.hpp"
#include "omt/error.hpp"

namespace omt::mapping {

struct SourcePath {
  std::string text;                   // "context.traits.email"
  std::vector<std::string> segments;  // {"context", "traits", "email"}
  int parent_id = -1;                 // the interned parent path ("context.traits"), for Source's cache; -1: none
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
  bool must_be_string = false;
  std::vector<ValueMapEntry> value_map;  // empty: no map; a value not listed is dropped
  std::vector<Transform> transforms;
  Validator validator = Validator::none;
  OnInvalid on_invalid = OnInvalid::drop;
  std::string error;     // message when on_invalid == fail
  std::string position;  // "contact.json fields[3]"
};

struct RuleList {
  std::vector<Rule> rules;
};

// extractCustomFields: every key of the objects at `from` (or of the object itself when root) that is not
// excluded, copied with null and "" kept, later paths overwriting earlier ones, dotted keys nested.
struct CustomFields {
  std::vector<SourcePath> from;
  bool root = false;
  std::vector<std::string> exclude;  // sorted
};

struct MappingFile {
  std::string name;  // "contact.json"
  std::map<std::string, RuleList, std::less<>> lists;  // "fields", and e.g. "customer", "address"
  std::optional<CustomFields> custom_fields;
  std::vector<std::pair<std::string, std::string>> statuses;  // order event name -> status
  const RuleList& list(std::string_view list_name) const { return lists.find(list_name)->second; }
};

// userId, firstName, ... -> their source paths (generic.json).
using GenericLookups = std::map<std::string, std::vector<SourcePath>, std::less<>>;

class TableSet {
 public:
  static Expected<TableSet> load(const std::filesystem::path& dir);
  // The same from any source of file texts (tests and fuzzing): read("contact.json") -> its text.
  using FileReader = std::function<Expected<std::string>(const std::string& name)>;
  static Expected<TableSet> parse(const FileReader& read);

  MappingFile contact, custom_event, order, lineitems, variant;
  GenericLookups generic;
};

// The pieces TableSet::parse is made of, for fuzzing one file at a time.
Expected<GenericLookups> parse_generic_file(const Expected<std::string>& text);
// name is one of contact.json, custom_event.json, order.json, lineitems.json, variant.json (it sets the shape).
Expected<MappingFile> parse_mapping_file(const std::string& name, const std::string& text, const GenericLookups& generic);

// ---- applying tables to one event (pure) --------------------------------------------------------------------

// One event (or line item) being mapped. Remembers the objects that source paths pass through (context,
// context.traits, properties...) so that each is found once per event rather than once per path.
class Source {
 public:
  static constexpr int max_cached_parents = 32;
  explicit Source(simdjson::dom::element root) : root_(root) {}
  simdjson::dom::element root() const { return root_; }
  std::optional<simdjson::dom::element> get(const SourcePath& path);

 private:
  simdjson::dom::element root_;
  std::array<std::uint8_t, max_cached_parents> state_{};  // 0 unknown, 1 found, 2 missing
  std::array<simdjson::dom::element, max_cached_parents> parents_{};
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
