// own_orders.json over the seed's tables. Extra source names go after a rule's own (the seed's names win), and
// new rules after the seed's, so every record key rudder-transformer writes keeps its place.
#include "mapping/own_orders.hpp"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mapping/loader.hpp"

namespace omt::mapping {
using njson = nlohmann::json;

namespace {

constexpr const char* file_name = "own_orders.json";

bool is_comment(const std::string& key) { return key == "comment" || key == "description"; }

// {"alsoFrom": {to: [paths]}, "fields": [rules], "excludeCustomFields": [keys]} applied to one seed table.
std::optional<Error> extend(MappingFile& file, const njson& spec, const std::string& where, const GenericLookups& generic) {
  if (!spec.is_object()) return load_error(where, "must be an object {alsoFrom, fields, excludeCustomFields}");
  RuleList& fields = file.lists.find("fields")->second;
  for (const auto& [key, value] : spec.items()) {
    const std::string at = where + " " + key;
    if (is_comment(key)) continue;
    if (key == "alsoFrom") {
      if (!value.is_object()) return load_error(at, "must map Ometria fields to lists of source paths");
      for (const auto& [to, paths] : value.items()) {
        if (is_comment(to)) continue;
        const std::string entry = at + " " + to;
        const std::string& field = to;  // a lambda may not capture a structured binding (clang 14)
        auto rule = std::find_if(fields.rules.begin(), fields.rules.end(), [&](const Rule& r) { return r.to == field && !r.if_empty; });
        if (rule == fields.rules.end()) return load_error(entry, "no rule of " + file.name + " fields maps \"" + to + "\"");
        if (rule->keep_empty) return load_error(entry, "a \"keepEmpty\" rule reads exactly one source path");
        if (!paths.is_array() || paths.empty()) return load_error(entry, "must be a non-empty list of source paths");
        njson written = njson::parse(rule->sources_json);
        if (!written.is_array()) written = njson::array({written});
        for (const auto& p : paths) {
          auto path = compile_path(p, entry);
          if (!path) return path.error();
          rule->from.push_back(std::move(*path));
          written.push_back(p);
        }
        rule->sources_json = written.dump();
      }
    } else if (key == "fields") {
      if (!value.is_array()) return load_error(at, "must be a list of rules");
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto rule = compile_rule(value[i], at + "[" + std::to_string(i) + "]", generic);
        if (!rule) return rule.error();
        if (fields.find(rule->to)) return load_error(rule->position, "\"" + rule->to + "\" is mapped twice");
        fields.rules.push_back(std::move(*rule));
      }
    } else if (key == "excludeCustomFields") {
      if (!value.is_array() || !file.custom_fields) return load_error(at, "must be a list of keys");
      for (const auto& e : value) {
        if (!e.is_string()) return load_error(at, "entries must be strings");
        file.custom_fields->exclude.push_back(e.get<std::string>());
      }
      file.custom_fields->sort_exclude();
    } else {
      return load_error(where, "unknown key \"" + key + "\"");
    }
  }
  return std::nullopt;
}

// A rule whose value the record keeps or not, but that can refuse the event (a required value, a string check, a
// failing validator): it must still run where its key is dropped afterwards.
bool can_refuse(const Rule& rule) { return rule.required || rule.must_be_string || rule.on_invalid == OnInvalid::fail; }

void drop_twins(MappingFile& file, std::initializer_list<std::string_view> prefixes) {
  auto& rules = file.lists.find("fields")->second.rules;
  std::erase_if(rules, [&](const Rule& rule) {
    return !can_refuse(rule) && std::any_of(prefixes.begin(), prefixes.end(),
                                            [&](std::string_view p) { return rule.to.starts_with(p); });
  });
}

// What a source in local currency keeps (sources/orders.cpp choose_currency): the order's base_* and the line
// items' base_* and local_* are removed from its records, so their rules need not run.
TableSet in_local_currency(TableSet tables) {
  drop_twins(tables.order, {base_prefix});
  drop_twins(tables.lineitems, {base_prefix, local_prefix});
  return tables;
}

}  // namespace

Expected<std::shared_ptr<const OwnOrderTables>> parse_own_orders(const Expected<std::string>& text, const TableSet& seed) {
  if (!text) return tl::unexpected(text.error());
  njson j;
  try {
    j = njson::parse(*text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const njson::exception& e) {  // parse_error, or out_of_range for a number past a double's range
    return fail(errc::invalid_config, std::string("mapping file ") + file_name + " is not valid JSON: " + e.what(), file_name);
  }
  if (!j.is_object()) return tl::unexpected(load_error(file_name, "the file must hold a JSON object"));
  auto own = std::make_shared<OwnOrderTables>();
  own->tables = seed;
  own->tables.own_orders.reset();
  std::vector<std::pair<std::string, std::string>> lifecycle;
  for (const auto& [key, value] : j.items()) {
    const std::string where = std::string(file_name) + " " + key;
    if (is_comment(key)) continue;
    if (key == "lifecycle") {
      if (!value.is_object()) return tl::unexpected(load_error(where, "must map event names to order statuses"));
      for (const auto& [event, status] : value.items()) {
        if (is_comment(event)) continue;
        if (!status.is_string()) return tl::unexpected(load_error(where, "status of \"" + event + "\" must be a string"));
        lifecycle.emplace_back(event, status.get<std::string>());
      }
    } else if (key == "invalidStatuses") {
      if (!value.is_array()) return tl::unexpected(load_error(where, "must be a list of statuses"));
      for (const auto& s : value) {
        if (!s.is_string()) return tl::unexpected(load_error(where, "entries must be strings"));
        own->invalid_statuses.push_back(s.get<std::string>());
      }
    } else if (key == "order" || key == "lineitems") {
      MappingFile& file = key == "order" ? own->tables.order : own->tables.lineitems;
      if (auto e = extend(file, value, where, seed.generic)) return tl::unexpected(*e);
    } else {
      return tl::unexpected(load_error(file_name, "unknown key \"" + key + "\""));
    }
  }
  if (lifecycle.empty()) return tl::unexpected(load_error(file_name, "missing \"lifecycle\""));
  own->lifecycle_tables = own->tables;
  auto& statuses = own->lifecycle_tables.order.statuses;
  for (auto& entry : lifecycle)
    if (std::none_of(statuses.begin(), statuses.end(), [&](const auto& s) { return s.first == entry.first; }))
      statuses.push_back(std::move(entry));
  own->local_tables = in_local_currency(own->tables);
  own->local_lifecycle_tables = in_local_currency(own->lifecycle_tables);
  return std::shared_ptr<const OwnOrderTables>(std::move(own));
}

}  // namespace omt::mapping
