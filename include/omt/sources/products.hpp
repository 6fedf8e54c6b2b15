// A source's product records (docs/sources.md, "Products"): track events named in `product_events` (as
// RudderStack's Reverse ETL sends warehouse rows) become Ometria products, and those in `stock_events` partial
// products sent with "@merge" (only the fields the event carries, never a partial attributes list), both mapped by
// mappings/product.json. A product without what recommendations need is still sent, and said to be incomplete.
#pragma once

#include <string>
#include <vector>

namespace omt::sources {

struct ProductSettings {
  // Event names, compared case-insensitively after trimming. A name may be in one list only.
  std::vector<std::string> product_events{"Product Created", "Product Updated"};
  std::vector<std::string> stock_events{"Product Back In Stock", "Product Out Of Stock"};
};

// A product sent without what Ometria's recommendations need (price over 0, title, url, is_active true).
struct IncompleteProduct {
  std::string id;       // the product's id as sent
  std::string missing;  // what it lacks, in that order: "price, url"
};

}  // namespace omt::sources
