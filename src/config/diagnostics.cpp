// How the config words two kinds of error: a JSON syntax error's place, and the name a typo was near.
#include <algorithm>
#include <cctype>

#include "reader.hpp"

namespace omt::config::detail {

std::string describe_syntax_error(const nlohmann::json::parse_error& error, std::string_view text) {
  // nlohmann: "[json.exception.parse_error.101] parse error at line 1, column 5: <what>; last read: '<text>'"
  const std::string what = error.what();
  std::string place, description = what;
  if (const auto at = what.find(" at line "); at != std::string::npos) {
    const auto colon = what.find(": ", at);
    place = what.substr(at + 4, colon == std::string::npos ? std::string::npos : colon - at - 4);
    if (const auto comma = place.find(", "); comma != std::string::npos) place.erase(comma, 1);
    description = colon == std::string::npos ? std::string() : what.substr(colon + 2);
  } else if (const auto bracket = what.find("] "); bracket != std::string::npos) {
    description = what.substr(bracket + 2);
  }
  if (const auto last_read = description.find("; last read"); last_read != std::string::npos) description.resize(last_read);
  if (place.empty()) place = "byte " + std::to_string(std::min<std::size_t>(error.byte, text.size()));
  return place + ": " + description;
}

namespace {

std::string folded(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Edits (insert, delete, replace, swap two neighbours) from a to b: optimal string alignment distance.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string wanted = folded(name);
  // Short names get fewer typos: "tls" is not a near miss of "log".
  const std::size_t allowed = wanted.size() <= 4 ? 1 : wanted.size() <= 12 ? 2 : 3;
  std::string best;
  std::size_t best_distance = allowed + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(wanted, folded(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace omt::config::detail
