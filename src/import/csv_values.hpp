// Internal: how one CSV cell becomes one JSON value, as a table's field says ("read": string, number, integer,
// boolean, timestamp, date, money, currency, phone; "map"; "prefix"). Pure; appends to the caller's buffer, so
// a million rows read without a heap allocation per cell.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omt::import::csv {

enum class Read : std::uint8_t { string, number, integer, boolean, timestamp, date, money, currency, phone };
enum class Unmapped : std::uint8_t { fail, keep, skip };

struct ValueSpec {
  Read read = Read::string;
  std::string prefix;                                 // string: written before the cell's text
  std::string drop_prefix;                            // removed from the cell's start when there ("'" of spreadsheets)
  std::vector<std::string> true_words, false_words;   // boolean: lower case
  std::vector<std::string> formats;                   // timestamp, date: strptime-like patterns, tried in order
  int assumed_offset_minutes = 0;                     // timestamp: the zone of a value without one
  std::vector<std::pair<std::string, std::vector<std::string>>> map;  // output -> inputs (lower case)
  Unmapped unmapped = Unmapped::fail;
};

enum class Outcome : std::uint8_t { written, skipped, invalid };

// Appends the JSON for `cell` (already trimmed and not empty) to `out`; `invalid` sets `reason` (the cell is
// quoted in it, cut to 40 bytes) and leaves `out` as it was.
Outcome write_value(const ValueSpec& spec, std::string_view cell, std::string& out, std::string& reason);

// A pattern's syntax check, for the loader: empty when fine, else what is wrong.
std::string check_time_format(std::string_view pattern);

// "+05:30", "-0800", "UTC", "Z" -> minutes east of UTC; false when not one of those.
bool parse_zone(std::string_view zone, int& minutes);

}  // namespace omt::import::csv
