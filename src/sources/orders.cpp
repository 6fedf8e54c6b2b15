// The order stages of a source of our own. The transformer maps the order with the extended tables (so every
// check and message of rudder-transformer's order mapping holds); what is left is a few keys of the record it made.
#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

#include "omt/ometria/push_api.hpp"
#include "sources/orders_stage.hpp"

namespace omt::sources {
using ojson = nlohmann::ordered_json;

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
  return settings.lifecycle ? seed.own_orders->lifecycle_tables : seed.own_orders->tables;
}

namespace {

constexpr std::string_view base_prefix = "base_", local_prefix = "local_";

bool starts_with(const std::string& key, std::string_view prefix) { return key.compare(0, prefix.size(), prefix) == 0; }

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void erase_prefixed(ojson& object, std::string_view prefix) {
  for (auto it = object.begin(); it != object.end();)
    it = starts_with(it.key(), prefix) ? object.erase(it) : std::next(it);
}

// Seed 004's Currency Type for one line item: local keeps the plain fields (the currency sold in); base sends
// the base amounts in them too, with their base_* twins; both sends plain, base_* and local_* fields.
void choose_currency(ojson& item, OrderCurrency currency) {
  if (currency == OrderCurrency::local) {
    erase_prefixed(item, base_prefix);
    erase_prefixed(item, local_prefix);
  } else if (currency == OrderCurrency::base) {
    erase_prefixed(item, local_prefix);
    std::vector<std::pair<std::string, ojson>> base;  // collected first: setting a key may move the others
    for (const auto& [key, value] : item.items())
      if (starts_with(key, base_prefix)) base.emplace_back(key.substr(base_prefix.size()), value);
    for (auto& [key, value] : base) item[key] = std::move(value);
  }
}

// Lifecycle: one order record updated by every event; a status of "" is an update that does not change it.
void set_status_and_validity(ojson& order, const OrderSettings& settings, const mapping::OwnOrderTables& own) {
  auto status = order.find("status");
  if (status == order.end() || !status->is_string()) return;
  const std::string value = status->get<std::string>();
  if (settings.lifecycle && value.empty()) {
    order.erase("status");
    order.erase("is_valid");
  } else {
    const bool invalid = (settings.lifecycle && contains(own.invalid_statuses, value)) ||
                         (!settings.valid_statuses.empty() && !contains(settings.valid_statuses, value));
    if (invalid) order["is_valid"] = false;
  }
  if (settings.lifecycle) order["@merge"] = true;
}

Expected<void> rewrite(ometria::Record& record, const OrderSettings& settings, const mapping::OwnOrderTables& own) {
  ojson order = ojson::parse(record.json, nullptr, /*allow_exceptions=*/false);
  if (!order.is_object()) return fail(errc::transformation, "internal error: the order record is not a JSON object");
  set_status_and_validity(order, settings, own);
  if (settings.currency == OrderCurrency::local) erase_prefixed(order, base_prefix);
  if (auto items = order.find("lineitems"); items != order.end() && items->is_array())
    for (auto& item : *items)
      if (item.is_object()) choose_currency(item, settings.currency);
  record.json = order.dump();
  return ometria::check_record_size(record.json.size());
}

}  // namespace

Expected<void> rewrite_order(ometria::Record& record, const OrderSettings& settings, const mapping::TableSet& seed) {
  if (record.type != ometria::RecordType::order || !seed.own_orders) return {};
  try {
    return rewrite(record, settings, *seed.own_orders);
  } catch (const std::exception& e) {  // dump() of text simdjson validated; never expected
    return fail(errc::transformation, std::string("internal error: ") + e.what());
  }
}

}  // namespace omt::sources
