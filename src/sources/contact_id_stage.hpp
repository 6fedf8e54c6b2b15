// Internal: the contact-id step of map_event (omt/sources/contact_ids.hpp) and the reader of its setting.
#pragma once

#include <optional>
#include <string>

#include "config/reader.hpp"
#include "mapping/table.hpp"
#include "omt/sources/contact_ids.hpp"

namespace simdjson::dom {
class element;
}

namespace omt::sources {

// For an identify that names no listing id (neither where contact.json's "id" rule reads one, nor
// integrations.Ometria.listingId) and has the chosen id: the event's text with it added as traits.listingId,
// to be parsed again and mapped as if the app had sent it. nullopt: the event is mapped as it is.
std::optional<std::string> with_listing_id(const mapping::TableSet& tables, const simdjson::dom::element& event,
                                           const ContactIdSettings& settings);

// "contact_id": "userId" (default), "anonymousId" or "none"; one that would put personal data in ids (an e-mail
// address, a phone number) is refused, saying why.
void read_contact_id(config::detail::ObjectReader& source, ContactIdSettings& out);

}  // namespace omt::sources
