// Internal: the ordered output tree the mappers build, and its serialiser.
// Values borrow: strings and source elements point into the parsed event (simdjson document) or into the
// mapping tables, and live as long as one transform. Serialisation follows JavaScript's JSON.stringify, so
// that records are byte-identical to rudder-transformer's: insertion order with array-index keys first in
// ascending order, JS number formatting, JSON.stringify string escaping.
#pragma once

#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <simdjson.h>

#include "omt/error.hpp"

namespace omt::json {

struct OutValue;
struct OutMember;

struct OutObject {
  std::vector<OutMember> members;

  OutValue* find(std::string_view key);
  const OutValue* find(std::string_view key) const;
  // JS assignment: an existing key keeps its position, a new key is appended.
  void set(std::string_view key, OutValue value);
  void erase(std::string_view key);
  bool empty() const { return members.empty(); }
};

struct OutArray {
  std::vector<OutValue> items;
};

struct OutValue {
  // monostate: JSON null. string_view: a string to escape. element: a source value copied verbatim.
  std::variant<std::monostate, bool, std::string_view, simdjson::dom::element, OutObject, OutArray> v;

  // Implicit on purpose: the mappers assign bools, strings, elements and objects alike.
  // Defined below, once OutMember is complete (clang needs it to instantiate the variant's destructor).
  OutValue();
  OutValue(bool b);                    // NOLINT(google-explicit-constructor)
  OutValue(std::string_view s);        // NOLINT
  OutValue(simdjson::dom::element e);  // NOLINT
  OutValue(OutObject o);               // NOLINT
  OutValue(OutArray a);                // NOLINT
  OutValue(const char*) = delete;      // a literal must be passed as std::string_view explicitly
};

struct OutMember {
  std::string_view key;
  OutValue value;
};

inline OutValue::OutValue() = default;
inline OutValue::OutValue(bool b) : v(b) {}
inline OutValue::OutValue(std::string_view s) : v(s) {}
inline OutValue::OutValue(simdjson::dom::element e) : v(e) {}
inline OutValue::OutValue(OutObject o) : v(std::move(o)) {}
inline OutValue::OutValue(OutArray a) : v(std::move(a)) {}

// Strings the mappers make (normalised phone numbers, lower-cased event names) live here for one transform.
// A deque never moves its elements, so string_views into it stay valid.
class Arena {
 public:
  std::string_view keep(std::string s) { return strings_.emplace_back(std::move(s)); }

 private:
  std::deque<std::string> strings_;
};

// Checked views of an element already known to be an object / array. (Never range-for over
// get_object().value_unsafe(): that binds a reference into a temporary.)
inline simdjson::dom::object as_object(simdjson::dom::element e) {
  simdjson::dom::object o;
  if (e.get(o) != simdjson::SUCCESS) return {};
  return o;
}
inline simdjson::dom::array as_array(simdjson::dom::element e) {
  simdjson::dom::array a;
  if (e.get(a) != simdjson::SUCCESS) return {};
  return a;
}

// JavaScript truthiness of a value, and getValueFromMessage's "qualifies" test (anything but null and "").
bool truthy(const OutValue& value);
bool truthy(simdjson::dom::element e);
bool qualifies(simdjson::dom::element e);
// Whether two values are the same JSON, member by member in order (keys and strings byte for byte, numbers by their
// parsed value and type): what a pure function of one value, such as a destination's config, cannot tell apart.
bool same_json(simdjson::dom::element a, simdjson::dom::element b);
// "string", "number", "boolean", "object", "array", "null": for error messages.
std::string_view type_name(simdjson::dom::element e);
// The error of a value of the wrong type at `where` ("message must be an object, got array"), with `where` as its
// path: the mappers' one wording for it.
Error wrong_type(std::string_view where, std::string_view expected, simdjson::dom::element got);

// Appends compact JSON, as JSON.stringify would write it.
void write(std::string& out, const OutValue& value);
void write(std::string& out, simdjson::dom::element e);
void write_string(std::string& out, std::string_view s);  // quoted and escaped
void write_number(std::string& out, double d);             // Number.prototype.toString

// The text write(value) would append, appended as the content of a JSON string instead (escaped as write_string
// of that text would escape it, without its quotes), in one pass. Returns the length of the text itself.
std::size_t write_as_string_content(std::string& out, const OutValue& value);
// The JSON string literal of "[item,item,...]", of items already written as string content (above): the request
// object's "batch" field from records the routes asked for in that form.
void write_string_of_array(std::string& out, std::span<const std::string_view> escaped_items);

}  // namespace omt::json
