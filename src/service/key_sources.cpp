#include "omt/service/key_sources.hpp"

#include "omt/obs/log.hpp"

namespace omt::service {

std::vector<std::string> sources_with_key(const std::vector<config::SourceConfig>& sources, std::string_view api_key) {
  std::vector<std::string> names;
  for (const auto& source : sources) {
    if (source.destination.api_key == api_key) names.push_back(source.name);
  }
  return names;
}

std::vector<std::string> sources_with_fingerprint(const std::vector<config::SourceConfig>& sources,
                                                  std::string_view fingerprint) {
  std::vector<std::string> names;
  for (const auto& source : sources) {
    if (obs::key_fingerprint(source.destination.api_key) == fingerprint) names.push_back(source.name);
  }
  return names;
}

std::string describe_key_sources(const std::vector<std::string>& names) {
  if (names.empty()) return "no source (an old key)";
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace omt::service
