// Internal: a source's consent stage (docs/sources.md, "Consent"): its settings read from the `sources` entry,
// and whether an event's context.consentManagement lets it be sent, decided as rudder-server's processor
// decides for a destination's generic consent management (processor/consent.go).
#pragma once

#include <optional>

#include "config/reader.hpp"
#include "omt/sources/consent.hpp"
#include "omt/sources/source_mapper.hpp"

namespace omt::sources {

// "consent": one provider's entry {"provider", "ids", "resolution_strategy"}, or a list of them.
void read_consent(config::detail::ObjectReader& source, ConsentSettings& out);

// A Skip (outcome skip_no_consent) when the event denies what the settings need; nullopt sends it.
std::optional<Skip> consent_skip(const simdjson::dom::element& event, const ConsentSettings& settings);

}  // namespace omt::sources
