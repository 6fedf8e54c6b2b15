// Internal: the output keys the Ometria mappers (transformer.cpp) read back from what the tables produced,
// per table, and why. This is the one list: the loader refuses mapping files that do not map every one of
// them (mappings/README.md lists them too, checked by a test), and transformer.cpp names each key it reads
// through required_key(), which does not compile for a key missing here.
#pragma once

#include "mapping/contract.hpp"

namespace omt::ometria::contract {

using mapping::RequiredKey;
using mapping::TableContract;

inline constexpr RequiredKey contact_keys[] = {
    {"id", "an identify without a truthy id fails: \"Parameter listingId is required for identify\""},
    {"@collection", "the source's configured collection is added only when the event names none"},
    {"properties", "custom fields are extracted only when it is not truthy"},
};
inline constexpr RequiredKey custom_event_keys[] = {
    {"properties", "custom fields are extracted only when it is not truthy"},
};
inline constexpr RequiredKey order_keys[] = {
    {"properties", "custom fields are extracted only when it is not truthy"},
    {"billing_address", "mapped again with the address rules"},
    {"shipping_address", "mapped again with the address rules"},
};
inline constexpr RequiredKey order_customer_keys[] = {
    {"id", "an order needs a customer id: \"customer_id and email is required for order related event\""},
    {"email", "an order needs a customer email: \"customer_id and email is required for order related event\""},
};
inline constexpr RequiredKey lineitem_keys[] = {
    {"product_id", "a line item without a truthy product_id is left out"},
    {"quantity", "a line item without a truthy quantity is left out"},
    {"unit_price", "a line item with neither unit_price nor subtotal is left out"},
    {"subtotal", "a line item with neither unit_price nor subtotal is left out"},
    {"properties", "custom fields are extracted only when it is not truthy"},
};
inline constexpr RequiredKey variant_keys[] = {
    {"id", "a variant option without a truthy id is left out"},
    {"type", "a variant option without a truthy type is left out"},
    {"label", "a variant option without a truthy label is left out"},
};

// product.json: read back by a source's own product stage (src/sources/products.cpp), not by transformer.cpp.
inline constexpr RequiredKey product_keys[] = {
    {"id", "a product without a truthy id fails: \"Missing required value from ...\""},
    {"title", "a product without a title is sent, and counted as incomplete"},
    {"price", "a product without a price over 0 is sent, and counted as incomplete"},
    {"url", "a product without a url is sent, and counted as incomplete (variants excepted)"},
    {"is_active", "a product that is not active is sent, and counted as incomplete"},
    {"is_in_stock", "a stock event that carries none gets the one stockEvents gives its name"},
    {"is_variant", "variants are not counted as incomplete"},
    {"attributes", "each item is mapped again with the attribute rules; never sent in a @merge"},
    {"listings", "each item is mapped again with the listing rules"},
    {"properties", "custom fields are extracted only when it is not truthy"},
};
inline constexpr RequiredKey product_attribute_keys[] = {
    {"type", "an attribute without a truthy type is left out"},
    {"id", "an attribute without a truthy id or value is left out"},
    {"value", "an attribute without a truthy id or value is left out"},
};
inline constexpr RequiredKey product_listing_keys[] = {
    {"store", "a listing without a truthy store is left out"},
};

inline constexpr TableContract contact{"contact.json", "fields", contact_keys};
inline constexpr TableContract custom_event{"custom_event.json", "fields", custom_event_keys};
inline constexpr TableContract order{"order.json", "fields", order_keys};
inline constexpr TableContract order_customer{"order.json", "customer", order_customer_keys};
inline constexpr TableContract lineitems{"lineitems.json", "fields", lineitem_keys};
inline constexpr TableContract variant{"variant.json", "fields", variant_keys};
inline constexpr TableContract product{"product.json", "fields", product_keys};
inline constexpr TableContract product_attribute{"product.json", "attribute", product_attribute_keys};
inline constexpr TableContract product_listing{"product.json", "listing", product_listing_keys};

// Every table's contract, as the loader checks them.
inline constexpr TableContract all[] = {contact,     custom_event, order,   order_customer,    lineitems,
                                        variant,     product,      product_attribute, product_listing};

}  // namespace omt::ometria::contract
