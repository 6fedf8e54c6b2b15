// The environment checked like the file: OMT_<KEY> variables set keys, OMT_SOURCES sets the sources list, and
// an OMT_ variable that is neither, no secret the config names and not reserved is an error naming it (a typo
// must not be a silent default). Each value set remembers its variable, so its errors name the variable.
#include <algorithm>
#include <charconv>

#include "reader.hpp"

extern char** environ;

namespace omt::config {

namespace {

// OMT_ variables that are not settings: the project's build, test and benchmark scripts' own (scripts/,
// tests/, bench/, docker/, .ci/). A shell that runs them may export them to the service too, so they are left
// alone. No config key's variable starts with these (a test keeps it so).
constexpr std::string_view reserved_prefixes[] = {
    "OMT_BUILD_",  // scripts/build.sh: OMT_BUILD_DIR, OMT_BUILD_TARGETS
    "OMT_TEST_",   // scripts/test.sh: OMT_TEST_SANITIZERS, OMT_TEST_FUZZ; the unit tests' own secrets
    "OMT_WITH_",   // scripts/install-deps.sh: OMT_WITH_FUZZ
    "OMT_BENCH_",  // bench/
};
constexpr std::string_view reserved_names[] = {
    "OMT_BODY_FILE", "OMT_AUTHORIZATION",  // bench/load/post.lua (wrk)
};

// An environment variable's text as a JSON value: true/false and integers as such, anything else a string
// (the key's reader then accepts "5s", "32MiB", "127.0.0.1:0" or says what it expected).
nlohmann::json typed(const std::string& text) {
  if (text == "true" || text == "false") return text == "true";
  std::int64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return number;
  return text;
}

// "OMT_SERVER_THREADS=abc": how a value's errors start. Long values are cut: the name is what matters.
std::string origin_label(const EnvironmentVariable& variable) {
  constexpr std::size_t max_shown = 80;
  std::string shown = variable.value.substr(0, max_shown);
  if (variable.value.size() > max_shown) shown += "...";
  return variable.name + "=" + shown;
}

// The variables the config names as secrets ({"env": "NAME"}), wherever they are.
void collect_secret_names(const nlohmann::json& value, std::vector<std::string>& names) {
  if (value.is_object()) {
    if (value.size() == 1 && value.contains("env") && value["env"].is_string()) names.push_back(value["env"]);
    for (const auto& item : value) collect_secret_names(item, names);
  } else if (value.is_array()) {
    for (const auto& item : value) collect_secret_names(item, names);
  }
}

Error environment_error(const std::string& name, std::string message) {
  return Error{errc::invalid_config, name + ": " + message, name};
}

}  // namespace

bool reserved_environment_name(std::string_view name) {
  return std::any_of(std::begin(reserved_prefixes), std::end(reserved_prefixes),
                     [&](std::string_view prefix) { return name.substr(0, prefix.size()) == prefix; }) ||
         std::find(std::begin(reserved_names), std::end(reserved_names), name) != std::end(reserved_names);
}

Expected<std::vector<std::string>> RawConfig::apply_environment() {
  std::vector<EnvironmentVariable> environment;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (text.substr(0, 4) != "OMT_" || equals == std::string_view::npos) continue;
    environment.push_back({std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))});
  }
  return apply_environment(environment);
}

Expected<std::vector<std::string>> RawConfig::apply_environment(const std::vector<EnvironmentVariable>& environment) {
  std::vector<EnvironmentVariable> variables;
  for (const auto& variable : environment)
    if (variable.name.rfind("OMT_", 0) == 0) variables.push_back(variable);
  // The first unknown variable in name order, whatever order the environment lists them in.
  std::sort(variables.begin(), variables.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

  const auto keys = known_keys();
  std::vector<std::string> settable;  // settable[i] sets keys[i]; the last one, OMT_SOURCES, sets the sources
  for (const auto& key : keys) settable.push_back(environment_name(key));
  settable.emplace_back(sources_environment_name);

  std::vector<std::string> applied;
  for (const auto& variable : variables) {
    const auto i = static_cast<std::size_t>(std::find(settable.begin(), settable.end(), variable.name) - settable.begin());
    if (i < keys.size()) {
      detail::set_at(*tree_, keys[i], typed(variable.value), origin_label(variable));
      applied.push_back(variable.name);
    }
    if (variable.name != sources_environment_name) continue;
    nlohmann::json sources;
    try {
      sources = nlohmann::json::parse(variable.value);
    } catch (const nlohmann::json::parse_error& e) {
      return tl::unexpected(environment_error(variable.name, "invalid JSON: " + detail::describe_syntax_error(e, variable.value)));
    } catch (const nlohmann::json::out_of_range&) {  // a number past a double's range
      return tl::unexpected(environment_error(variable.name, "invalid JSON: a number is out of range"));
    }
    // The value is not shown in its errors: it holds the sources' secrets.
    detail::set_at(*tree_, "sources", std::move(sources), variable.name);
    applied.push_back(variable.name);
  }

  std::vector<std::string> secrets;
  collect_secret_names(tree_->json, secrets);
  for (const auto& variable : variables) {
    const auto& name = variable.name;
    if (std::find(applied.begin(), applied.end(), name) != applied.end() || reserved_environment_name(name) ||
        std::find(secrets.begin(), secrets.end(), name) != secrets.end())
      continue;
    std::string message = "no configuration key has this variable";
    if (const auto near = detail::nearest_name(name, settable); !near.empty()) message += " (did you mean " + near + "?)";
    message += "; the OMT_ variables are OMT_<KEY> for each key, " + std::string(sources_environment_name) +
               " and the secrets the config names";
    return tl::unexpected(environment_error(name, std::move(message)));
  }
  return applied;
}

}  // namespace omt::config
