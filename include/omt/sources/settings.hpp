// A source's own mapping settings: what the events the service receives itself (ingest, import) get beyond
// rudder-transformer's mapping (product records, namespaces, contact ids, the order lifecycle, consent, ...).
// Each feature keeps its settings in a struct of its own header under omt/sources/ and has one member here;
// src/sources/settings.cpp reads them from a `sources` entry. The rudder-transformer routes never read them.
#pragma once

#include "omt/sources/consent.hpp"
#include "omt/sources/custom_events.hpp"
#include "omt/sources/contact_ids.hpp"
#include "omt/sources/namespaces.hpp"
#include "omt/sources/products.hpp"
#include "omt/sources/orders.hpp"

namespace omt::sources {

struct Settings {
  ConsentSettings consent;
  CustomEventSettings custom_events;
  ProductSettings products;   // "product_events", "stock_events"
  Namespaces namespaces;      // "namespaces"
  ContactIdSettings contact_ids;  // "contact_id"
  OrderSettings orders;       // "order_lifecycle", "valid_order_statuses", "order_currency"
};

}  // namespace omt::sources
