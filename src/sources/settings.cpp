// Reads each feature's settings of a `sources` entry: one call per feature, in the order the docs list them.
#include "sources/settings_reader.hpp"

#include "sources/consent.hpp"
#include "sources/custom_events.hpp"
#include "sources/contact_id_stage.hpp"
#include "sources/namespace_stage.hpp"
#include "sources/orders_stage.hpp"
#include "sources/product_stage.hpp"

namespace omt::sources {

void read_settings(config::detail::ObjectReader& source, Settings& out) {
  read_consent(source, out.consent);
  read_custom_events(source, out.custom_events);
  read_product_settings(source, out.products);
  read_namespaces(source, out.namespaces);
  read_contact_id(source, out.contact_ids);
  read_order_settings(source, out.orders);
}

bool read_string_list(config::detail::ObjectReader& reader, std::string_view key, std::vector<std::string>& out,
                      std::string_view what) {
  const nlohmann::json* list = reader.find(key);
  if (!list) return false;
  const std::string expected = "expected a list of " + std::string(what) + " (non-empty strings)";
  if (!list->is_array()) {
    reader.error(key, expected);
    return true;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& value = (*list)[i];
    if (!value.is_string() || value.get<std::string>().empty()) {
      reader.error(std::string(key) + "[" + std::to_string(i) + "]", expected);
      return true;
    }
    out.push_back(value.get<std::string>());
  }
  return true;
}

}  // namespace omt::sources
