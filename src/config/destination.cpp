// transform's destination settings: RudderStack's spelling of a source's settings, read by the same section
// reader (sections.cpp, read_destination_settings), with unknown keys named and a near miss suggested.
#include "omt/config/destination.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "reader.hpp"

namespace omt::config {

namespace {

constexpr std::size_t max_destination_bytes = 1u << 20;

// Keys RudderStack's Ometria destination carries that are not the transformer's: its consent settings, which
// rudder-server applies before an event reaches a transformer (docs/reference/rudder-server-gateway.md,
// "consent"). An exported destination has them, so they are accepted, and ignored as rudder-transformer does.
// Any other key is refused: a typo of a setting ("apikey") must not silently become no setting.
constexpr std::string_view rudder_consent_keys[] = {"consentManagement", "oneTrustCookieCategories",
                                                    "ketchConsentPurposes"};

}  // namespace

Expected<ometria::DestinationConfig> parse_destination_config(std::string_view json_text, std::string_view source) {
  const std::string name(source);
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return fail(errc::invalid_config, name + " is not JSON: " + detail::describe_syntax_error(e, json_text));
  } catch (const nlohmann::json::out_of_range& e) {  // a number past a double's range
    return fail(errc::invalid_config, name + " is not JSON: " + e.what());
  }
  if (!root.is_object())
    return fail(errc::invalid_config, name + ": expected a JSON object (the destination's Config, or a whole destination with its \"Config\")");
  const nlohmann::json* settings = &root;
  std::string path;
  if (const auto inner = root.find("Config"); inner != root.end() && inner->is_object()) {
    settings = &*inner;  // a whole destination: only its Config is read
    path = "Config";
  }

  detail::ReadContext context{name, std::nullopt};
  detail::ObjectReader reader(context, settings, path);
  ometria::DestinationConfig out;
  detail::read_destination_settings(reader, detail::rudder_destination_keys, out);
  for (const auto key : rudder_consent_keys) reader.find(key);
  if (const auto unknown = reader.unknown_keys(); !unknown.empty()) {
    const detail::DestinationKeys& keys = detail::rudder_destination_keys;
    const std::vector<std::string> known{std::string(keys.api_key), std::string(keys.marketing_optin),
                                         std::string(keys.allow_marketing), std::string(keys.allow_transactional)};
    std::string message = "unknown key \"" + unknown.front() + "\"";
    if (const auto near = detail::nearest_name(unknown.front(), known); !near.empty())
      message += " (did you mean \"" + near + "\"?)";
    else
      message += " (known: " + known[0] + ", " + known[1] + ", " + known[2] + ", " + known[3] + ")";
    reader.error("", std::move(message));
  }
  detail::require_api_key(reader, detail::rudder_destination_keys, out);
  if (context.first_error) return tl::unexpected(*context.first_error);
  return out;
}

Expected<ometria::DestinationConfig> read_destination_config(const std::filesystem::path& file) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!in) return fail(errc::invalid_config, "cannot open " + file.string() + ": " + std::strerror(errno));
  std::string text;
  char block[1 << 14];
  std::size_t n = 0;
  while ((n = std::fread(block, 1, sizeof block, in.get())) > 0) {
    if (text.size() + n > max_destination_bytes) return fail(errc::invalid_config, file.string() + ": larger than 1 MiB");
    text.append(block, n);
  }
  if (std::ferror(in.get())) return fail(errc::invalid_config, "cannot read " + file.string() + ": " + std::strerror(errno));
  return parse_destination_config(text, file.string());
}

}  // namespace omt::config
