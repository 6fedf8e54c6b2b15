// Contact ids for stock SDK apps: a listing id taken from userId or anonymousId, never from personal data.
// The event is rewritten rather than the contact after the transformer, so that every rule of contact.json
// (and the message of an identify that still has no id) stays the transformer's.
#include "sources/contact_id_stage.hpp"

#include <simdjson.h>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "mapping/applier.hpp"
#include "omt/core/text.hpp"

namespace omt::sources {
namespace dom = simdjson::dom;

namespace {

// Where the transformer finds an explicit listing id besides contact.json's "id" rule (its integrations step).
constexpr std::string_view integration_names[] = {"Ometria", "ometria", "OMETRIA"};

bool names_a_listing_id(const mapping::TableSet& tables, dom::element event) {
  if (const mapping::Rule* rule = tables.contact.list("fields").find("id"))
    if (mapping::first_qualifying(event, rule->from)) return true;
  const auto integrations = json::member(event, "integrations");
  if (!integrations) return false;
  // As the transformer: the first of the spellings that qualifies, and its listingId when truthy.
  for (std::string_view name : integration_names)
    if (auto integ = json::member(*integrations, name); integ && json::qualifies(*integ)) {
      const auto listing = integ->is_object() ? json::member(*integ, "listingId") : std::nullopt;
      return listing && json::truthy(*listing);
    }
  return false;
}

std::string_view id_key(ContactIdFrom from) { return from == ContactIdFrom::anonymous_id ? "anonymousId" : "userId"; }

}  // namespace

std::optional<std::string> with_listing_id(const mapping::TableSet& tables, const dom::element& event,
                                           const ContactIdSettings& settings) {
  if (settings.from == ContactIdFrom::none || !event.is_object()) return std::nullopt;
  const auto type = json::member(event, "type");
  if (!type || !type->is_string() || !text::iequals(type->get_string().value_unsafe(), "identify")) return std::nullopt;
  const auto id = json::member(event, id_key(settings.from));
  if (!id || !json::truthy(*id) || !(id->is_string() || id->is_number())) return std::nullopt;
  if (names_a_listing_id(tables, event)) return std::nullopt;
  const auto traits = json::member(event, "traits");
  if (traits && !traits->is_object() && !traits->is_null()) return std::nullopt;  // left to the transformer's rules

  // {..., "traits": {..., "listingId": id}}: every other member as it was, in its place.
  json::OutObject rewritten;
  json::OutObject new_traits;
  if (traits && traits->is_object())
    for (auto field : json::as_object(*traits)) new_traits.members.push_back({field.key, json::OutValue(field.value)});
  new_traits.set("listingId", *id);
  bool placed = false;
  for (auto field : json::as_object(event)) {
    if (field.key == "traits") {
      if (!placed) rewritten.members.push_back({field.key, json::OutValue(new_traits)});
      placed = true;
      continue;
    }
    rewritten.members.push_back({field.key, json::OutValue(field.value)});
  }
  if (!placed) rewritten.members.push_back({"traits", json::OutValue(std::move(new_traits))});
  std::string out;
  json::write(out, json::OutValue(std::move(rewritten)));
  return out;
}

void read_contact_id(config::detail::ObjectReader& source, ContactIdSettings& out) {
  const nlohmann::json* v = source.find("contact_id");
  if (!v) return;
  const std::string choices = "expected \"userId\", \"anonymousId\" or \"none\"";
  if (!v->is_string()) return source.error("contact_id", choices);
  const std::string name = v->get<std::string>();
  if (name == "userId") out.from = ContactIdFrom::user_id;
  else if (name == "anonymousId") out.from = ContactIdFrom::anonymous_id;
  else if (name == "none") out.from = ContactIdFrom::none;
  else {
    std::string lowered;
    for (char c : name) lowered += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool personal = lowered.find("email") != std::string::npos || lowered.find("e-mail") != std::string::npos ||
                          lowered.find("phone") != std::string::npos || lowered.find("mobile") != std::string::npos;
    if (personal)
      return source.error("contact_id", "\"" + name + "\" would put personal data in contact ids, and Ometria ids must "
                                        "not contain any (an e-mail address or phone number): " + choices);
    return source.error("contact_id", choices + ", got \"" + name + "\"");
  }
}

}  // namespace omt::sources
