// A source's own mapping settings: what the events the service receives itself (ingest, import) get beyond
// rudder-transformer's mapping (product records, namespaces, contact ids, the order lifecycle, consent, ...).
// Each feature keeps its settings in a struct of its own header under omt/sources/ and has one member here;
// src/sources/settings.cpp reads them from a `sources` entry. The rudder-transformer routes never read them.
#pragma once

#include "omt/sources/orders.hpp"

namespace omt::sources {

struct Settings {
  OrderSettings orders;
};

}  // namespace omt::sources
