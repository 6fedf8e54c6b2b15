// The outcomes of a source's own product records (docs/sources.md, "Products"): a product stored that lacks what
// Ometria's recommendations need (price over 0, title, url, is_active) is sent all the same, and counted
// (omt_products_incomplete_total) and logged (info, with its id and what it lacks), so that the catalogue's gaps
// can be found and fixed at the source.
#pragma once

#include <string_view>

namespace omt::obs {

class Registry;
class Counter;

struct ProductIncomplete {
  std::string_view source;   // the source's name (configuration, not user data)
  std::string_view id;       // the product's id as sent (user data: redacted in the line)
  std::string_view missing;  // "price, url"
};

class ProductEvents {
 public:
  // registry: null counts nothing; the lines are written anyway.
  explicit ProductEvents(Registry* registry);

  void emit(const ProductIncomplete& event) const;

 private:
  Counter* incomplete_ = nullptr;
};

}  // namespace omt::obs
