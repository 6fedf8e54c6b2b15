// The config as a whole: the raw tree and its overrides (file, environment, flags), and validate(), which runs
// the section readers (sections.cpp) over it. Value syntax: values.cpp; typed reads: object_reader.cpp; the
// environment: environment.cpp.
#include "omt/config/config.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "reader.hpp"

namespace omt::config {

// ---- RawConfig ----

RawConfig::RawConfig() : tree_(std::make_unique<Tree>()) {}
RawConfig::RawConfig(const RawConfig& other) : tree_(std::make_unique<Tree>(*other.tree_)), source_(other.source_) {}
RawConfig& RawConfig::operator=(const RawConfig& other) {
  if (this != &other) {
    tree_ = std::make_unique<Tree>(*other.tree_);
    source_ = other.source_;
  }
  return *this;
}
RawConfig::RawConfig(RawConfig&&) noexcept = default;
RawConfig& RawConfig::operator=(RawConfig&&) noexcept = default;
RawConfig::~RawConfig() = default;

Expected<RawConfig> RawConfig::parse(std::string_view json_text, std::string_view source) {
  RawConfig raw;
  raw.source_ = std::string(source);
  try {
    raw.tree_->json = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return fail(errc::invalid_config, raw.source_ + ": invalid JSON: " + e.what());
  } catch (const nlohmann::json::out_of_range& e) {  // a number past a double's range
    return fail(errc::invalid_config, raw.source_ + ": invalid JSON: " + e.what());
  }
  if (!raw.tree_->json.is_object()) return fail(errc::invalid_config, raw.source_ + ": expected a JSON object");
  return raw;
}

Expected<RawConfig> RawConfig::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(errc::invalid_config, file.string() + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(errc::invalid_config, file.string() + ": cannot read the config file");
  return parse(text.str(), file.string());
}

namespace {
nlohmann::json& slot_for(nlohmann::json& root, std::string_view dotted_key) {
  nlohmann::json* node = &root;
  while (true) {
    const auto dot = dotted_key.find('.');
    const std::string part(dotted_key.substr(0, dot));
    if (!node->is_object()) *node = nlohmann::json::object();
    node = &(*node)[part];
    if (dot == std::string_view::npos) return *node;
    dotted_key.remove_prefix(dot + 1);
  }
}
}  // namespace

namespace detail {
void set_at(RawConfig::Tree& tree, std::string_view dotted_key, nlohmann::json value, std::string origin) {
  slot_for(tree.json, dotted_key) = std::move(value);
  // A value set here replaces what was under its key, and so the origins recorded under it.
  for (auto it = tree.origins.begin(); it != tree.origins.end();)
    it = is_at_or_under(it->first, dotted_key) ? tree.origins.erase(it) : std::next(it);
  if (!origin.empty()) tree.origins.emplace(std::string(dotted_key), std::move(origin));
}
}  // namespace detail

void RawConfig::set(std::string_view dotted_key, std::string value, std::string origin) {
  detail::set_at(*tree_, dotted_key, std::move(value), std::move(origin));
}
void RawConfig::set(std::string_view dotted_key, std::int64_t value, std::string origin) {
  detail::set_at(*tree_, dotted_key, value, std::move(origin));
}
void RawConfig::set(std::string_view dotted_key, bool value, std::string origin) {
  detail::set_at(*tree_, dotted_key, value, std::move(origin));
}
void RawConfig::erase(std::string_view top_level_key) {
  detail::set_at(*tree_, top_level_key, nullptr, {});  // drops the origins under it
  tree_->json.erase(std::string(top_level_key));
}

namespace {
struct Section {
  std::string_view key;
  void (*read)(detail::ObjectReader&, Config&);
};
// Later sections (queue, ometria, delivery, sources) add one row each.
constexpr Section sections[] = {
    {"server", detail::read_server_section},
    {"log", detail::read_log_section},
    {"queue", detail::read_queue_section},
    {"ometria", detail::read_ometria_section},
    {"delivery", detail::read_delivery_section},
    {"ingest", detail::read_ingest_section},
    {"import", detail::read_import_section},
};
}  // namespace

std::string environment_name(std::string_view dotted_key) {
  std::string name = "OMT_";
  for (char c : dotted_key) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::vector<std::string> known_keys() {
  std::vector<std::string> asked;
  detail::ReadContext context{"defaults", std::nullopt, &asked};
  Config config;
  RawConfig empty;
  detail::ObjectReader root(context, &empty.tree().json, "");
  for (const Section& section : sections) {
    detail::ObjectReader reader = root.object(section.key);
    section.read(reader, config);
  }
  root.path("mappings_dir", config.mappings_dir);
  std::vector<std::string> keys;
  for (auto& key : asked)
    if (key.find('.') != std::string::npos || key == "mappings_dir") keys.push_back(std::move(key));  // leaves only
  return keys;
}

Expected<Config> validate(const RawConfig& raw) {
  detail::ReadContext context{raw.source(), std::nullopt};
  context.origins = &raw.tree().origins;
  Config config;
  detail::ObjectReader root(context, &raw.tree().json, "");
  for (const Section& section : sections) {
    detail::ObjectReader reader = root.object(section.key);
    section.read(reader, config);
    reader.done();
  }
  root.path("mappings_dir", config.mappings_dir);
  detail::read_sources(root, config);
  root.done();
  if (context.first_error) return tl::unexpected(*context.first_error);
  return config;
}

}  // namespace omt::config
