// Reads each feature's settings of a `sources` entry: one call per feature, in the order the docs list them.
#include "sources/settings_reader.hpp"

#include "sources/contact_id_stage.hpp"
#include "sources/namespace_stage.hpp"
#include "sources/product_stage.hpp"

namespace omt::sources {

void read_settings(config::detail::ObjectReader& source, Settings& out) {
  read_product_settings(source, out.products);
  read_namespaces(source, out.namespaces);
  read_contact_id(source, out.contact_ids);
}

}  // namespace omt::sources
