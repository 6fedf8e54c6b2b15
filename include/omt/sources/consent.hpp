// A source's consent settings: the consent ids its events must not deny before they are sent to Ometria, per
// consent provider, as rudder-server applies a destination's generic consent management (docs/sources.md,
// "Consent"). Read by src/sources/consent.cpp; empty (the default) sends every event.
#pragma once

#include <string>
#include <vector>

namespace omt::sources {

// One provider's entry (rudder-server: an item of the destination Config's consentManagement).
struct ConsentProvider {
  std::string provider;             // as the SDK names it in context.consentManagement.provider (exact case)
  std::string resolution_strategy;  // provider "custom" only: "and" (the default) or "or"
  std::vector<std::string> ids;     // the consent ids the destination needs; never empty
};

struct ConsentSettings {
  std::vector<ConsentProvider> providers;  // at most one entry per provider
};

}  // namespace omt::sources
