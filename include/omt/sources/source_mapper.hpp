// One event of a source of our own (ingest; import) -> the Ometria record it becomes, or skipped and why. The
// source's own stages (omt/sources/*.hpp, one per feature, set by omt/sources/settings.hpp) run around
// rudder-transformer's mapping (ometria::Transformer), which they never change: the rudder-transformer routes
// do not come here. Pure and thread-safe; never throws. docs/sources.md describes every setting.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/products.hpp"

namespace simdjson::dom {
class element;
}

namespace omt::sources {

// The outcomes a source's own skips are counted under (omt_ingest_events_total{outcome=...}), besides the
// "skipped" of call types Ometria has no record for; the ingest routes register a counter for each, once.
inline constexpr std::string_view skip_no_consent = "no_consent";    // its consent does not allow it (consent)
inline constexpr std::string_view skip_not_allowed = "not_allowed";  // a custom event the source does not send
inline constexpr std::string_view skip_outcomes[] = {skip_no_consent, skip_not_allowed};

// An event the source's settings say not to send: nothing wrong with it, nothing to store.
struct Skip {
  std::string outcome;  // the omt_ingest_events_total outcome it is counted under ("no_consent", ...)
  std::string reason;   // for the log and the answer
};

// Exactly one of the two is set.
struct Mapped {
  std::optional<ometria::Record> record;
  std::optional<Skip> skip;
  std::optional<IncompleteProduct> incomplete_product;  // with a product record that lacks what recommendations need
};

// The error is the reason the event can never become a record (as Transformer::transform's).
Expected<Mapped> map_event(const ometria::Transformer& transformer, const simdjson::dom::element& event,
                           const config::SourceConfig& source);

}  // namespace omt::sources
