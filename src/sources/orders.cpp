// The order stages of a source of our own. The transformer maps the order with the extended tables (so every
// check and message of rudder-transformer's order mapping holds); what is left is a few keys of the record it
// makes, edited in its output tree before the one serialisation.
#include <algorithm>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "json/out_value.hpp"
#include "sources/orders_stage.hpp"

namespace omt::sources {

void read_order_settings(config::detail::ObjectReader& source, OrderSettings& out) {
  source.boolean("order_lifecycle", out.lifecycle);
  if (const nlohmann::json* statuses = source.find("valid_order_statuses")) {
    const bool ok = statuses->is_array() && !statuses->empty() &&
                    std::all_of(statuses->begin(), statuses->end(),
                                [](const auto& s) { return s.is_string() && !s.template get_ref<const std::string&>().empty(); });
    if (!ok) return source.error("valid_order_statuses", "expected a non-empty list of order statuses (strings)");
    for (const auto& s : *statuses) out.valid_statuses.push_back(s.get<std::string>());
  }
  std::string currency = "local";
  source.string_in("order_currency", currency, {"local", "base", "both"});
  out.currency = currency == "base" ? OrderCurrency::base : currency == "both" ? OrderCurrency::both : OrderCurrency::local;
}

const mapping::TableSet& order_tables(const mapping::TableSet& seed, const OrderSettings& settings) {
  if (!seed.own_orders) return seed;
  const mapping::OwnOrderTables& own = *seed.own_orders;
  if (settings.currency == OrderCurrency::local) return settings.lifecycle ? own.local_lifecycle_tables : own.local_tables;
  return settings.lifecycle ? own.lifecycle_tables : own.tables;
}

namespace {
using json::OutObject;
using json::OutValue;

using mapping::base_prefix;
using mapping::local_prefix;

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void erase_prefixed(OutObject& object, std::string_view prefix) {
  auto& members = object.members;
  members.erase(std::remove_if(members.begin(), members.end(),
                               [&](const json::OutMember& m) { return m.key.substr(0, prefix.size()) == prefix; }),
                members.end());
}

// A string value of the tree, whether the mapper wrote it or copied it from the event.
std::optional<std::string_view> string_of(const OutValue& value) {
  if (const auto* s = std::get_if<std::string_view>(&value.v)) return *s;
  if (const auto* e = std::get_if<simdjson::dom::element>(&value.v); e && e->is_string())
    return std::string_view(e->get_string().value_unsafe());
  return std::nullopt;
}

// Seed 004's Currency Type for one line item: local keeps the plain fields (the currency sold in); base sends
// the base amounts in them too, with their base_* twins; both sends plain, base_* and local_* fields.
void choose_currency(OutObject& item, OrderCurrency currency) {
  if (currency == OrderCurrency::local) {
    erase_prefixed(item, base_prefix);
    erase_prefixed(item, local_prefix);
  } else if (currency == OrderCurrency::base) {
    erase_prefixed(item, local_prefix);
    std::vector<json::OutMember> base;  // collected first: setting a key may move the others
    for (const auto& m : item.members)
      if (m.key.substr(0, base_prefix.size()) == base_prefix) base.push_back({m.key.substr(base_prefix.size()), m.value});
    for (auto& m : base) item.set(m.key, std::move(m.value));
  }
}

// Lifecycle: one order record updated by every event; a status of "" is an update that does not change it.
void set_status_and_validity(OutObject& order, const OrderSettings& settings, const mapping::OwnOrderTables& own) {
  const OutValue* status = order.find("status");
  const auto value = status ? string_of(*status) : std::nullopt;
  if (!value) return;
  if (settings.lifecycle && value->empty()) {
    order.erase("status");
    order.erase("is_valid");
  } else {
    const bool invalid = (settings.lifecycle && contains(own.invalid_statuses, *value)) ||
                         (!settings.valid_statuses.empty() && !contains(settings.valid_statuses, *value));
    if (invalid) order.set("is_valid", false);
  }
  if (settings.lifecycle) order.set("@merge", true);
}

}  // namespace

ometria::RecordEdit order_rewrite(const OrderSettings& settings, const mapping::TableSet& seed) {
  if (!seed.own_orders) return {};
  return [&settings, &own = *seed.own_orders](ometria::RecordType type, OutObject& order) -> Expected<void> {
    if (type != ometria::RecordType::order) return {};
    set_status_and_validity(order, settings, own);
    if (settings.currency == OrderCurrency::local) erase_prefixed(order, base_prefix);
    if (auto* items = order.find("lineitems"))
      if (auto* array = std::get_if<json::OutArray>(&items->v))
        for (auto& item : array->items)
          if (auto* object = std::get_if<OutObject>(&item.v)) choose_currency(*object, settings.currency);
    return {};
  };
}

}  // namespace omt::sources
