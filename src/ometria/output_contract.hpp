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

inline constexpr TableContract contact{"contact.json", "fields", contact_keys};
inline constexpr TableContract custom_event{"custom_event.json", "fields", custom_event_keys};
inline constexpr TableContract order{"order.json", "fields", order_keys};
inline constexpr TableContract order_customer{"order.json", "customer", order_customer_keys};
inline constexpr TableContract lineitems{"lineitems.json", "fields", lineitem_keys};
inline constexpr TableContract variant{"variant.json", "fields", variant_keys};

// Every table's contract, as the loader checks them.
inline constexpr TableContract all[] = {contact, custom_event, order, order_customer, lineitems, variant};

}  // namespace omt::ometria::contract
