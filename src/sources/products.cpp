// Product records from mappings/product.json. The table says which fields a product has and where they come
// from; this file holds the steps around it: which events are products, attributes and listings mapped item by
// item, the @merge partial of a stock event (never attributes: a partial list would replace the stored one), and
// what a product lacks for recommendations.
#include "sources/product_stage.hpp"

#include <simdjson.h>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "mapping/applier.hpp"
#include "ometria/js_string.hpp"
#include "ometria/output_contract.hpp"
#include "omt/core/text.hpp"
#include "omt/ometria/push_api.hpp"

namespace omt::sources {
namespace dom = simdjson::dom;
using json::OutArray;
using json::OutObject;
using json::OutValue;

namespace {

namespace key {
namespace contract = ometria::contract;
using mapping::required_key;
constexpr std::string_view id = required_key(contract::product, "id");
constexpr std::string_view title = required_key(contract::product, "title");
constexpr std::string_view price = required_key(contract::product, "price");
constexpr std::string_view url = required_key(contract::product, "url");
constexpr std::string_view is_active = required_key(contract::product, "is_active");
constexpr std::string_view is_in_stock = required_key(contract::product, "is_in_stock");
constexpr std::string_view is_variant = required_key(contract::product, "is_variant");
constexpr std::string_view attributes = required_key(contract::product, "attributes");
constexpr std::string_view listings = required_key(contract::product, "listings");
constexpr std::string_view properties = required_key(contract::product, "properties");
constexpr std::string_view attribute_type = required_key(contract::product_attribute, "type");
constexpr std::string_view attribute_id = required_key(contract::product_attribute, "id");
constexpr std::string_view attribute_value = required_key(contract::product_attribute, "value");
constexpr std::string_view listing_store = required_key(contract::product_listing, "store");
}  // namespace key

enum class Kind { product, stock };

bool named_in(std::string_view name, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (text::iequals(text::trim(n), name)) return true;
  return false;
}

// The event's kind when it is a track event named in one of the lists.
std::optional<Kind> kind_of(dom::element event, const ProductSettings& settings) {
  const auto type = json::member(event, "type");
  if (!type || !type->is_string() || !text::iequals(type->get_string().value_unsafe(), "track")) return std::nullopt;
  const auto name = json::member(event, "event");
  if (!name || !name->is_string()) return std::nullopt;
  const std::string_view trimmed = ometria::js_trim(name->get_string().value_unsafe());
  if (named_in(trimmed, settings.product_events)) return Kind::product;
  if (named_in(trimmed, settings.stock_events)) return Kind::stock;
  return std::nullopt;
}

bool truthy(const OutObject& o, std::string_view k) {
  const OutValue* v = o.find(k);
  return v && json::truthy(*v);
}

// Each object item of the array at `k` mapped by `rules`, kept when `keep` says so; the key is left out when
// none is kept. A value that is not an array fails the event (as an order's products do).
template <class Keep>
std::optional<Error> map_items(OutObject& p, std::string_view k, std::string_view where, const mapping::RuleList& rules,
                               json::Arena& arena, Keep keep) {
  OutValue* slot = p.find(k);
  if (!slot) return std::nullopt;
  const auto* el = std::get_if<dom::element>(&slot->v);
  if (!el || !el->is_array()) return el ? std::optional<Error>(json::wrong_type(where, "an array", *el)) : std::nullopt;
  OutArray items;
  for (dom::element item : json::as_array(*el)) {
    if (!item.is_object()) continue;
    auto mapped = mapping::apply(rules, item, arena);
    if (!mapped) return mapped.error();
    if (keep(*mapped)) items.items.emplace_back(std::move(*mapped));
  }
  if (items.items.empty()) p.erase(k);
  else *slot = OutValue(std::move(items));
  return std::nullopt;
}

bool is_true(const OutObject& o, std::string_view k) {
  const OutValue* v = o.find(k);
  if (!v) return false;
  if (const auto* b = std::get_if<bool>(&v->v)) return *b;
  const auto* el = std::get_if<dom::element>(&v->v);
  return el && el->is_bool() && el->get_bool().value_unsafe();
}

bool positive_number(const OutObject& o, std::string_view k) {
  const OutValue* v = o.find(k);
  const auto* el = v ? std::get_if<dom::element>(&v->v) : nullptr;
  if (!el || !el->is_number()) return false;
  double d = 0;
  return el->get_double().get(d) == simdjson::SUCCESS && d > 0;
}

// What a parent product lacks for recommendations; variants are never recommended on their own.
std::string missing_for_recommendations(const OutObject& p) {
  if (is_true(p, key::is_variant)) return {};
  std::string missing;
  auto lacks = [&](bool has, std::string_view what) {
    if (has) return;
    if (!missing.empty()) missing += ", ";
    missing += what;
  };
  lacks(positive_number(p, key::price), "price");
  lacks(truthy(p, key::title), "title");
  lacks(truthy(p, key::url), "url");
  lacks(is_true(p, key::is_active), "is_active");
  return missing;
}

std::string id_text(const OutObject& p) {
  const OutValue* v = p.find(key::id);
  if (!v) return {};
  if (const auto* el = std::get_if<dom::element>(&v->v); el && el->is_string())
    return std::string(el->get_string().value_unsafe());
  std::string out;
  json::write(out, *v);
  return out;
}

Expected<ProductRecord> build(const mapping::TableSet& tables, dom::element event, Kind kind) {
  const mapping::MappingFile& table = tables.product;
  json::Arena arena;
  mapping::Source source(event);
  auto mapped = mapping::apply(table.list("fields"), source, arena);
  if (!mapped) return tl::unexpected(mapped.error());
  OutObject p;
  p.set("@type", std::string_view("product"));
  for (auto& member : mapped->members) p.members.push_back(std::move(member));

  if (kind == Kind::stock) {
    p.erase(key::attributes);  // a partial list would replace the whole stored one
  } else if (auto e = map_items(p, key::attributes, "properties.attributes", table.list("attribute"), arena,
                                [](const OutObject& a) {
                                  return truthy(a, key::attribute_type) &&
                                         (truthy(a, key::attribute_id) || truthy(a, key::attribute_value));
                                })) {
    return tl::unexpected(*e);
  }
  if (auto e = map_items(p, key::listings, "properties.listings", table.list("listing"), arena,
                         [](const OutObject& l) { return truthy(l, key::listing_store); }))
    return tl::unexpected(*e);

  if (kind == Kind::product && !truthy(p, key::properties)) {
    OutObject custom = mapping::extract_custom_fields(*table.custom_fields, source);
    if (!custom.empty()) p.set(key::properties, std::move(custom));
  }
  ProductRecord out;
  if (kind == Kind::stock) {
    if (!p.find(key::is_in_stock)) {
      const std::string name =
          ometria::js_to_lower(ometria::js_trim(json::member(event, "event")->get_string().value_unsafe()));
      for (const auto& [stock_event, in_stock] : table.stock_events)
        if (stock_event == name) p.set(key::is_in_stock, in_stock);
    }
    p.set("@merge", true);
  } else if (std::string missing = missing_for_recommendations(p); !missing.empty()) {
    out.incomplete = IncompleteProduct{id_text(p), std::move(missing)};
  }
  out.record.type = ometria::RecordType::product;
  json::write(out.record.json, OutValue(std::move(p)));
  if (auto fits = ometria::check_record_size(out.record.json.size()); !fits) return tl::unexpected(std::move(fits.error()));
  return out;
}

void read_names(config::detail::ObjectReader& source, std::string_view k, std::vector<std::string>& out) {
  const nlohmann::json* list = source.find(k);
  if (!list) return;
  if (!list->is_array()) return source.error(k, "expected a list of event names");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& v = (*list)[i];
    if (!v.is_string() || text::trim(v.get<std::string>()).empty())
      return source.error(std::string(k) + "[" + std::to_string(i) + "]", "expected an event name");
    names.push_back(v.get<std::string>());
  }
  out = std::move(names);
}

}  // namespace

std::optional<Expected<ProductRecord>> product_record(const mapping::TableSet& tables, const dom::element& event,
                                                      const ProductSettings& settings) {
  const auto kind = kind_of(event, settings);
  if (!kind) return std::nullopt;
  try {
    return build(tables, event, *kind);
  } catch (const std::exception& e) {
    // As the transformer: a bad_alloc on a hostile event fails only that event.
    return Expected<ProductRecord>(fail(errc::transformation, std::string("internal error: ") + e.what()));
  }
}

void read_product_settings(config::detail::ObjectReader& source, ProductSettings& out) {
  read_names(source, "product_events", out.product_events);
  read_names(source, "stock_events", out.stock_events);
  for (std::size_t i = 0; i < out.stock_events.size(); ++i)
    if (named_in(text::trim(out.stock_events[i]), out.product_events))
      return source.error("stock_events[" + std::to_string(i) + "]",
                          "\"" + out.stock_events[i] + "\" is in product_events too: an event is either a product or a stock update");
}

}  // namespace omt::sources
