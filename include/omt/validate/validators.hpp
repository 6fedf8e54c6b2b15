// Field validators: pure functions of a string, used by the mapping tables ("validate": "e164" | "iso8601" |
// "iso4217" | "boolean"). Each returns the value to send (possibly normalised) or nullopt when invalid.
// They never throw and accept any bytes, however long or malformed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace omt::validate {

// A phone number written in international form (leading '+', any spacing, dashes, dots or brackets) that
// libphonenumber's IsValidNumber accepts, returned in E.164 ("+442079460958"). Anything else: nullopt.
std::optional<std::string> e164_phone(std::string_view input);

// An ISO-8601 / RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, optional fraction (.digits), then optional 'Z' or
// numeric offset (+05:30, +0530, +05, -00:00). A real calendar date (2024-02-31 is rejected) and a real time;
// nothing before or after. 't'/' ' separators and a lower-case 'z' are accepted as RFC 3339 allows.
bool is_iso8601_datetime(std::string_view input);

// An ISO-4217 currency code from the current list, after trimming ASCII white space and upper-casing
// ("  usd " -> "USD"). Withdrawn codes and anything else: nullopt.
std::optional<std::string> iso4217_currency(std::string_view input);

}  // namespace omt::validate
