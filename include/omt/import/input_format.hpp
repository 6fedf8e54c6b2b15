// What an input file holds, and how an import tells: JSON Lines of RudderStack / Segment events, JSON Lines of
// native Ometria records, or CSV. Detected only where it is unambiguous (a .csv name; a first non-empty line that
// is an object with "@type", or with "type" / "event" / "userId" / "anonymousId"); --format says otherwise or
// where detection cannot. Pure; never throws.
#pragma once

#include <optional>
#include <string_view>

#include "omt/error.hpp"

namespace omt::import {

enum class InputFormat { events, records, csv };

std::string_view to_string(InputFormat format);
// "events" | "records" | "csv"
std::optional<InputFormat> input_format_from(std::string_view name);

// The format of a file by its name (without a trailing .gz) and its first non-empty line (decompressed; empty
// when the file has none). The error says why it cannot tell and to pass --format.
Expected<InputFormat> detect_format(std::string_view file_name, std::string_view first_line);

}  // namespace omt::import
