// Where a source's contacts get their id when an identify names no listing id (docs/sources.md, "Contact
// ids"): ordinary SDK apps send none, and rudder-transformer refuses such identifies. Only ids that carry no
// personal data may be chosen (seed 003): userId or anonymousId, never the e-mail address or phone number.
#pragma once

#include <cstdint>

namespace omt::sources {

enum class ContactIdFrom : std::uint8_t {
  user_id,       // "userId" (the default): the event's userId
  anonymous_id,  // "anonymousId": the event's anonymousId
  none,          // "none": rudder-transformer's rule, an identify without a listing id is refused
};

struct ContactIdSettings {
  ContactIdFrom from = ContactIdFrom::user_id;
};

}  // namespace omt::sources
