// How a stored Ometria error keeps the ids of the records it was matched to: one JSON array of strings in a text
// column, the same in every queue backend.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "omt/delivery/ometria_errors.hpp"

namespace omt::queue {

// The match's record ids as a JSON array; nullopt when there is no match.
std::optional<std::string> matched_ids_text(const std::optional<delivery::ErrorMatch>& match);
// The ids back from that text; what is not an array of strings reads as none.
std::vector<std::string> matched_ids_from_text(const std::string& text);

}  // namespace omt::queue
