// Field validators: pure functions of a string, used by the mapping tables ("validate": "e164" | "iso8601" |
// "iso4217" | "boolean"). Each returns the value to send (possibly normalised) or nullopt when invalid.
// They never throw and accept any bytes, however long or malformed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace omt::validate {

// A phone number written in international form (leading '+', any spacing, dashes, dots or brackets) that
// libphonenumber's IsValidNumber accepts, returned in E.164 ("+442079460958"). Surrounding ASCII white space
// is trimmed; letters (vanity numbers, extensions), non-ASCII digits and over 40 bytes: nullopt.
std::optional<std::string> e164_phone(std::string_view input);

// An ISO-8601 / RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, optional fraction ('.' or ',' and 1-9 digits), then
// optional 'Z' or numeric offset (+05:30, +0530, +05, -00:00; hours 00-23). A real calendar date (2024-02-31
// is rejected; years 0001-9999) and a real time (00:00:00-23:59:59: no 24:00, no leap second 60); nothing
// before or after, at most 64 bytes. 't'/' ' separators and a lower-case 'z' are accepted as RFC 3339 allows.
bool is_iso8601_datetime(std::string_view input);

// An ISO-4217 currency code from the current list, after trimming ASCII white space and upper-casing
// ("  usd " -> "USD"). Fund, precious-metal and special codes of List One are accepted except XTS (testing)
// and XXX (no currency). Withdrawn codes (HRK, ANG, BGN, ...) and anything else: nullopt.
std::optional<std::string> iso4217_currency(std::string_view input);

}  // namespace omt::validate
