// Custom events: an Ometria event type must be set up in the account before it drives anything, so a source may
// send only the track names it set up (allow) or leave some out (deny); and a custom event's nested products[]
// cannot be segmented, while a property holding an array of product ids lets templates pull product data
// (../shared/OMETRIA_RECORDS.md, "Custom events").
#include "sources/custom_events.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "ometria/js_string.hpp"
#include "sources/settings_reader.hpp"

namespace omt::sources {

namespace dom = simdjson::dom;
using config::detail::ObjectReader;

namespace {

// As the transformer writes a custom event's event_type, so that a name matches however the app spells it.
std::string event_type_of(std::string_view name) { return ometria::js_to_lower(ometria::js_trim(name)); }

// The fields a product's id is read from, in order: product_id first, the field order line items carry
// (mappings/lineitems.json), so both name the same product record; sku for apps that send none (the SKU may be
// the Ometria product id, seed 004 "Product ID Mapping"); id, Segment's v1 spelling.
constexpr std::string_view product_id_fields[] = {"product_id", "sku", "id"};

std::optional<std::string> product_id_of(dom::element product) {
  for (const std::string_view field : product_id_fields) {
    const auto value = json::member(product, field);
    if (!value) continue;
    std::string_view text;
    std::int64_t signed_number = 0;
    std::uint64_t unsigned_number = 0;
    if (value->get(text) == simdjson::SUCCESS && !text.empty()) return std::string(text);
    if (value->get(signed_number) == simdjson::SUCCESS) return std::to_string(signed_number);
    if (value->get(unsigned_number) == simdjson::SUCCESS) return std::to_string(unsigned_number);
  }
  return std::nullopt;
}

}  // namespace

void read_custom_events(ObjectReader& source, CustomEventSettings& out) {
  ObjectReader section = source.object("custom_events");
  std::vector<std::string> allow, deny;
  const bool has_allow = read_string_list(section, "allow", allow, "event names");
  const bool has_deny = read_string_list(section, "deny", deny, "event names");
  section.boolean("product_ids", out.product_ids);
  section.done();
  if (has_allow && has_deny)
    return section.error("", "has both allow and deny: list the custom events to send (allow) or those not to send (deny), not both");
  if (has_allow || has_deny) out.list = has_allow ? CustomEventSettings::List::allow : CustomEventSettings::List::deny;
  for (const auto& name : has_allow ? allow : deny) out.names.push_back(event_type_of(name));
}

std::optional<Skip> custom_event_skip(const ometria::Transformer& transformer, const mapping::TableSet& tables,
                                      const dom::element& event, const CustomEventSettings& settings) {
  if (settings.list == CustomEventSettings::List::none) return std::nullopt;
  if (transformer.record_type_of(event, tables) != ometria::RecordType::custom_event) return std::nullopt;
  const auto name = json::member(event, "event");
  std::string_view text;
  if (!name || name->get(text) != simdjson::SUCCESS) return std::nullopt;  // the transformer says why it cannot be sent
  const std::string type = event_type_of(text);
  if (type.empty()) return std::nullopt;
  const bool listed = std::find(settings.names.begin(), settings.names.end(), type) != settings.names.end();
  if (listed == (settings.list == CustomEventSettings::List::allow)) return std::nullopt;
  return Skip{std::string(skip_not_allowed),
              settings.list == CustomEventSettings::List::allow ? "the custom event is not in custom_events.allow"
                                                                : "the custom event is in custom_events.deny"};
}

void list_product_ids(ometria::Record& record, const CustomEventSettings& settings) {
  if (!settings.product_ids || record.type != ometria::RecordType::custom_event) return;
  if (record.json.find("\"products\"") == std::string::npos) return;  // the common case, without a parse
  dom::parser parser;
  dom::element root_element;
  dom::object root, properties;
  if (parser.parse(record.json).get(root_element) != simdjson::SUCCESS || root_element.get(root) != simdjson::SUCCESS)
    return;
  const auto properties_value = json::member(root_element, "properties");
  if (!properties_value || properties_value->get(properties) != simdjson::SUCCESS) return;
  if (json::member(*properties_value, "product_id")) return;
  const auto products_value = json::member(*properties_value, "products");
  dom::array products;
  if (!products_value || products_value->get(products) != simdjson::SUCCESS) return;
  std::vector<std::string> ids;
  for (dom::element product : products)
    if (auto id = product_id_of(product); id && std::find(ids.begin(), ids.end(), *id) == ids.end())
      ids.push_back(std::move(*id));
  if (ids.empty()) return;

  // The record written again in its own key order, products replaced by product_id where it stood.
  std::string out;
  out.reserve(record.json.size());
  out += '{';
  bool first = true;
  for (auto [key, value] : root) {
    if (!first) out += ',';
    first = false;
    json::write_string(out, key);
    out += ':';
    if (key != "properties") {
      json::write(out, value);
      continue;
    }
    out += '{';
    bool first_property = true;
    for (auto [property, property_value] : properties) {
      if (!first_property) out += ',';
      first_property = false;
      if (property != "products") {
        json::write_string(out, property);
        out += ':';
        json::write(out, property_value);
        continue;
      }
      out += "\"product_id\":[";
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        json::write_string(out, ids[i]);
      }
      out += ']';
    }
    out += '}';
  }
  out += '}';
  record.json = std::move(out);
}

}  // namespace omt::sources
