// Internal: the two JavaScript string operations the contract applies to event names and types:
// String.prototype.trim (Unicode white space) and toLowerCase (here: ASCII, Latin-1, Latin Extended-A, Greek
// and Cyrillic capitals, which covers event names seen in practice; other scripts are left as they are).
#pragma once

#include <string>
#include <string_view>

namespace omt::ometria {

std::string_view js_trim(std::string_view s);
std::string js_to_lower(std::string_view s);

}  // namespace omt::ometria
