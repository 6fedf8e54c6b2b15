// Consent as rudder-server's processor applies a destination's generic consent management
// (processor/consent.go, getConsentFilteredDestinations; docs/reference/rudder-server-gateway.md section 7):
// only deniedConsentIds decide, allowedConsentIds are never read, the provider's entry is found by the event's
// own provider name, and only "custom" takes its resolution strategy from the settings.
#include "sources/consent.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "json/member.hpp"
#include "sources/settings_reader.hpp"

namespace omt::sources {

namespace dom = simdjson::dom;
using config::detail::ObjectReader;

namespace {

// The one provider whose resolution strategy is the destination's (the SDK sends none for it).
constexpr std::string_view custom_provider = "custom";

void read_provider(ObjectReader& source, const nlohmann::json& value, const std::string& path, ConsentSettings& out) {
  ObjectReader entry(source.context(), &value, path);
  if (!value.is_object()) return entry.error("", "expected an object {\"provider\", \"ids\", \"resolution_strategy\"}");
  ConsentProvider p;
  // The providers the JavaScript SDK and rudder-server know. rudder-server takes any name; one outside these could
  // never match an event's, so it is a typo refused at start-up.
  entry.string_in("provider", p.provider, {"custom", "oneTrust", "ketch", "iubenda"});
  read_string_list(entry, "ids", p.ids, "consent ids");
  if (!entry.context().first_error && p.ids.empty()) entry.error("ids", "expected at least one consent id");
  if (p.provider == custom_provider) {
    p.resolution_strategy = "and";
    entry.string_in("resolution_strategy", p.resolution_strategy, {"and", "or"});
  } else if (entry.find("resolution_strategy")) {
    entry.error("resolution_strategy",
                "is read for provider custom only: for " + p.provider +
                    " the event's own context.consentManagement.resolutionStrategy decides, as in rudder-server");
  }
  entry.done();
  for (const auto& other : out.providers)
    if (other.provider == p.provider) return entry.error("provider", "\"" + p.provider + "\" is listed twice");
  out.providers.push_back(std::move(p));
}

std::string_view string_member(dom::element object, std::string_view key) {
  std::string_view text;
  const auto value = json::member(object, key);
  return value && value->get(text) == simdjson::SUCCESS ? text : std::string_view();
}

}  // namespace

void read_consent(ObjectReader& source, ConsentSettings& out) {
  const nlohmann::json* consent = source.find("consent");
  if (!consent) return;
  if (consent->is_array()) {
    for (std::size_t i = 0; i < consent->size(); ++i)
      read_provider(source, (*consent)[i], source.key_path("consent") + "[" + std::to_string(i) + "]", out);
    return;
  }
  read_provider(source, *consent, source.key_path("consent"), out);
}

std::optional<Skip> consent_skip(const dom::element& event, const ConsentSettings& settings) {
  if (settings.providers.empty()) return std::nullopt;
  // Absent, not an object, or no usable deniedConsentIds: nothing is filtered. A value of the wrong type counts
  // as absent, as Go's decoder leaves it at its zero value; empty ids are dropped.
  const auto context = json::member(event, "context");
  if (!context) return std::nullopt;
  const auto management = json::member(*context, "consentManagement");
  if (!management || !management->is_object()) return std::nullopt;
  std::vector<std::string_view> denied;
  dom::array ids;
  if (const auto value = json::member(*management, "deniedConsentIds"); value && value->get(ids) == simdjson::SUCCESS)
    for (dom::element id : ids) {
      std::string_view text;
      if (id.get(text) == simdjson::SUCCESS && !text.empty()) denied.push_back(text);
    }
  if (denied.empty()) return std::nullopt;

  const std::string_view provider = string_member(*management, "provider");
  const auto entry = std::find_if(settings.providers.begin(), settings.providers.end(),
                                  [&](const ConsentProvider& p) { return p.provider == provider; });
  if (entry == settings.providers.end()) return std::nullopt;  // no entry for this provider: sent

  const std::string_view strategy =
      provider == custom_provider ? std::string_view(entry->resolution_strategy) : string_member(*management, "resolutionStrategy");
  const auto is_denied = [&](const std::string& id) { return std::find(denied.begin(), denied.end(), id) != denied.end(); };
  // "or": the user consented to at least one of the ids; anything else (empty included) is "and": to all of them.
  const bool refused = strategy == "or" ? std::all_of(entry->ids.begin(), entry->ids.end(), is_denied)
                                        : std::any_of(entry->ids.begin(), entry->ids.end(), is_denied);
  if (!refused) return std::nullopt;
  return Skip{std::string(skip_no_consent),
              "context.consentManagement denies the consent " + std::string(strategy == "or" ? "ids" : "id") +
                  " this source's " + entry->provider + " settings need"};
}

}  // namespace omt::sources
