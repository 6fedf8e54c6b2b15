// A source's id namespaces (docs/sources.md, "Namespaces"; seed 004): prefixes written in front of the ids of
// the records it sends (customer: contact ids and customer ids; product: product ids, line items' product and
// variant ids; order: order ids), so that accounts fed from several platforms keep their ids apart. A prefix
// holds only letters, digits, '-' and '_' (checked at start-up); empty: ids are sent as they are.
#pragma once

#include <string>

namespace omt::sources {

struct Namespaces {
  std::string customer;
  std::string product;
  std::string order;
  bool any() const { return !customer.empty() || !product.empty() || !order.empty(); }
};

}  // namespace omt::sources
