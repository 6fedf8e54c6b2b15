#include "ometria_error_ids.hpp"

#include <nlohmann/json.hpp>

namespace omt::queue {

std::optional<std::string> matched_ids_text(const std::optional<delivery::ErrorMatch>& match) {
  if (!match) return std::nullopt;
  return nlohmann::json(match->record_ids).dump();
}

std::vector<std::string> matched_ids_from_text(const std::string& text) {
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> ids;
  if (!parsed.is_array()) return ids;
  for (const auto& id : parsed) {
    if (id.is_string()) ids.push_back(id.get<std::string>());
  }
  return ids;
}

}  // namespace omt::queue
