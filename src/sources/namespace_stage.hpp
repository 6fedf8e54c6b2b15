// Internal: the namespaces stage of map_event (omt/sources/namespaces.hpp) and the reader of its settings.
#pragma once

#include "config/reader.hpp"
#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/namespaces.hpp"

namespace omt::sources {

// The record with its ids prefixed, in its own key order: a contact's id and customer_id (customer); an order's
// id (order), its customer.id (customer) and its line items' product_id and variant_id (product); a product's id
// (product); a custom event's identity_account_id (customer: the customer id it is matched by). A number id
// becomes a string. Unchanged when the record's namespaces are empty.
Expected<void> apply_namespaces(ometria::Record& record, const Namespaces& namespaces);

// "namespaces": {"customer": "...", "product": "...", "order": "..."}; a prefix of other characters than letters,
// digits, '-' and '_' is refused, naming the key.
void read_namespaces(config::detail::ObjectReader& source, Namespaces& out);

}  // namespace omt::sources
