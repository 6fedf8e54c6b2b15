#include "mapping/loader.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "mapping/own_orders.hpp"

namespace omt::mapping {
using njson = nlohmann::json;

Error load_error(const std::string& where, const std::string& what) {
  return Error{errc::invalid_config, "mapping error in " + where + ": " + what, where};
}

namespace {
constexpr std::size_t max_path_segments = 16;
}  // namespace

Expected<SourcePath> compile_path(const njson& j, const std::string& where) {
  if (!j.is_string()) return tl::unexpected(load_error(where, "a source path must be a string"));
  SourcePath path;
  path.text = j.get<std::string>();
  std::size_t start = 0;
  while (true) {
    const auto dot = path.text.find('.', start);
    path.segments.push_back(path.text.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (path.segments.back().empty())
      return tl::unexpected(load_error(where, "bad source path \"" + path.text + "\" (empty segment)"));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (path.segments.size() > max_path_segments)
    return tl::unexpected(load_error(where, "source path \"" + path.text + "\" is too deep"));
  return path;
}

Expected<Rule> compile_rule(const njson& j, const std::string& where, const GenericLookups& generic) {
  static const std::unordered_set<std::string> known = {"to", "from", "generic", "required", "keepEmpty", "ifEmpty", "type",
                                                        "valueMap", "transform", "validate", "onInvalid", "error",
                                                        "comment"};
  if (!j.is_object()) return tl::unexpected(load_error(where, "a rule must be an object"));
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) return tl::unexpected(load_error(where, "unknown key \"" + key + "\""));

  Rule rule;
  rule.position = where;
  if (!j.contains("to") || !j["to"].is_string() || j["to"].get<std::string>().empty())
    return tl::unexpected(load_error(where, "\"to\" (the Ometria field) must be a non-empty string"));
  rule.to = j["to"].get<std::string>();
  if (rule.to.find('.') != std::string::npos)
    return tl::unexpected(load_error(where, "\"to\" must be a single key, got \"" + rule.to + "\""));

  const bool has_from = j.contains("from"), has_generic = j.contains("generic");
  if (has_from == has_generic)
    return tl::unexpected(load_error(where, "a rule needs exactly one of \"from\" or \"generic\""));
  if (has_from) {
    const njson& from = j["from"];
    if (from.is_array()) {
      if (from.empty()) return tl::unexpected(load_error(where, "\"from\" must not be empty"));
      for (const auto& p : from) {
        auto path = compile_path(p, where);
        if (!path) return tl::unexpected(path.error());
        rule.from.push_back(std::move(*path));
      }
    } else {
      auto path = compile_path(from, where);
      if (!path) return tl::unexpected(path.error());
      rule.from.push_back(std::move(*path));
    }
    rule.sources_json = from.dump();
  } else {
    if (!j["generic"].is_string()) return tl::unexpected(load_error(where, "\"generic\" must be a string"));
    const auto name = j["generic"].get<std::string>();
    const auto it = generic.find(name);
    if (it == generic.end())
      return tl::unexpected(load_error(where, "unknown generic lookup \"" + name + "\" (see generic.json)"));
    rule.from = it->second;
    rule.sources_json = njson(name).dump();
  }

  auto flag = [&](const char* key, bool& out) -> std::optional<Error> {
    if (!j.contains(key)) return std::nullopt;
    if (!j[key].is_boolean()) return load_error(where, std::string("\"") + key + "\" must be true or false");
    out = j[key].get<bool>();
    return std::nullopt;
  };
  if (auto e = flag("required", rule.required)) return tl::unexpected(*e);
  if (auto e = flag("keepEmpty", rule.keep_empty)) return tl::unexpected(*e);
  if (rule.keep_empty && rule.from.size() != 1)
    return tl::unexpected(load_error(where, "\"keepEmpty\" needs exactly one source path"));
  if (auto e = flag("ifEmpty", rule.if_empty)) return tl::unexpected(*e);
  if (rule.if_empty && (rule.from.size() != 1 || rule.required || rule.keep_empty))
    return tl::unexpected(load_error(where, "\"ifEmpty\" needs exactly one source path, and no \"required\" or \"keepEmpty\""));

  if (j.contains("type")) {
    if (j["type"] != "string") return tl::unexpected(load_error(where, "\"type\" can only be \"string\""));
    rule.must_be_string = true;
  }
  if (j.contains("valueMap")) {
    const njson& map = j["valueMap"];
    if (!map.is_object() || map.empty())
      return tl::unexpected(load_error(where, "\"valueMap\" must be an object of output value -> [input values]"));
    for (const auto& [to, from] : map.items()) {
      if (!from.is_array() || from.empty())
        return tl::unexpected(load_error(where, "valueMap \"" + to + "\" must list its input values"));
      ValueMapEntry entry{to, {}};
      for (const auto& v : from) {
        if (!v.is_string()) return tl::unexpected(load_error(where, "valueMap input values must be strings"));
        entry.from.push_back(v.get<std::string>());
      }
      rule.value_map.push_back(std::move(entry));
    }
  }
  if (j.contains("transform")) {
    const njson& t = j["transform"];
    if (!t.is_array()) return tl::unexpected(load_error(where, "\"transform\" must be a list"));
    for (const auto& name : t) {
      if (name == "trim") rule.transforms.push_back(Transform::trim);
      else if (name == "upper") rule.transforms.push_back(Transform::upper);
      else if (name == "lower") rule.transforms.push_back(Transform::lower);
      else return tl::unexpected(load_error(where, "unknown transform " + name.dump() + " (trim, upper, lower)"));
    }
  }
  if (j.contains("validate")) {
    const njson& v = j["validate"];
    if (v == "e164") rule.validator = Validator::e164;
    else if (v == "iso8601") rule.validator = Validator::iso8601;
    else if (v == "iso4217") rule.validator = Validator::iso4217;
    else if (v == "boolean") rule.validator = Validator::boolean;
    else return tl::unexpected(load_error(where, "unknown validator " + v.dump() + " (e164, iso8601, iso4217, boolean)"));
  }
  if (j.contains("onInvalid")) {
    if (rule.validator == Validator::none)
      return tl::unexpected(load_error(where, "\"onInvalid\" needs a \"validate\""));
    const njson& o = j["onInvalid"];
    if (o == "drop") rule.on_invalid = OnInvalid::drop;
    else if (o == "fail") rule.on_invalid = OnInvalid::fail;
    else return tl::unexpected(load_error(where, "\"onInvalid\" must be \"drop\" or \"fail\""));
  }
  if (j.contains("error")) {
    if (!j["error"].is_string()) return tl::unexpected(load_error(where, "\"error\" must be a string"));
    rule.error = j["error"].get<std::string>();
  }
  if (rule.on_invalid == OnInvalid::fail && rule.error.empty())
    return tl::unexpected(load_error(where, "\"onInvalid\": \"fail\" needs an \"error\" message"));
  return rule;
}

namespace {

// As the config loader does, nlohmann's parse_error says where: "parse error at line 3, column 14: ...".
Expected<njson> parse_json_text(const std::string& name, const Expected<std::string>& text) {
  if (!text) return tl::unexpected(text.error());
  try {
    return njson::parse(*text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const njson::exception& e) {  // parse_error, or out_of_range for a number past a double's range
    return fail(errc::invalid_config, "mapping file " + name + " is not valid JSON: " + e.what(), name);
  }
}

// "lineitems.json fields[4] (to \"unit_price\")": a rule by its index and, when it has one, its Ometria field.
std::string rule_position(const std::string& list_where, std::size_t index, const njson& rule) {
  std::string where = list_where + "[" + std::to_string(index) + "]";
  if (rule.is_object())
    if (auto to = rule.find("to"); to != rule.end() && to->is_string() && !to->get_ref<const std::string&>().empty())
      where += " (to " + to->dump() + ")";
  return where;
}

struct FileShape {
  std::vector<std::string> required_lists;  // "fields" always
  bool custom_fields = false;
  bool statuses = false;
  bool stock_events = false;  // product.json's "stockEvents"
};

Expected<MappingFile> load_file(const std::string& name, const std::string& text, const FileShape& shape,
                                const GenericLookups& generic) {
  auto j = parse_json_text(name, text);
  if (!j) return tl::unexpected(j.error());
  if (!j->is_object()) return tl::unexpected(load_error(name, "the file must hold a JSON object"));
  MappingFile file;
  file.name = name;
  for (const auto& [key, value] : j->items()) {
    const std::string where = name + " " + key;
    if (key == "description" || key == "comment") continue;
    if (std::find(shape.required_lists.begin(), shape.required_lists.end(), key) != shape.required_lists.end()) {
      if (!value.is_array()) return tl::unexpected(load_error(where, "must be a list of rules"));
      RuleList list;
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto rule = compile_rule(value[i], rule_position(where, i, value[i]), generic);
        if (!rule) return tl::unexpected(rule.error());
        // A key is mapped once; a later "ifEmpty" rule for it is its fallback, not a second mapping.
        for (const auto& other : list.rules)
          if (other.to == rule->to && (!rule->if_empty || other.if_empty))
            return tl::unexpected(load_error(rule->position, "\"" + rule->to + "\" is mapped twice"));
        list.rules.push_back(std::move(*rule));
      }
      file.lists.emplace(key, std::move(list));
    } else if (key == "customFields" && shape.custom_fields) {
      if (!value.is_object()) return tl::unexpected(load_error(where, "must be an object {from, exclude}"));
      CustomFields cf;
      for (const auto& [k, v] : value.items())
        if (k != "from" && k != "exclude" && k != "comment")
          return tl::unexpected(load_error(where, "unknown key \"" + k + "\""));
      if (!value.contains("from")) return tl::unexpected(load_error(where, "needs \"from\""));
      if (value["from"] == "root") {
        cf.root = true;
      } else if (value["from"].is_array()) {
        for (const auto& p : value["from"]) {
          auto path = compile_path(p, where);
          if (!path) return tl::unexpected(path.error());
          cf.from.push_back(std::move(*path));
        }
      } else {
        return tl::unexpected(load_error(where, "\"from\" must be \"root\" or a list of paths"));
      }
      if (value.contains("exclude")) {
        if (!value["exclude"].is_array()) return tl::unexpected(load_error(where, "\"exclude\" must be a list"));
        for (const auto& e : value["exclude"]) {
          if (!e.is_string()) return tl::unexpected(load_error(where, "\"exclude\" entries must be strings"));
          cf.exclude.push_back(e.get<std::string>());
        }
        cf.sort_exclude();
      }
      file.custom_fields = std::move(cf);
    } else if (key == "statuses" && shape.statuses) {
      if (!value.is_object() || value.empty())
        return tl::unexpected(load_error(where, "must map event names to order statuses"));
      for (const auto& [event, status] : value.items()) {
        if (!status.is_string()) return tl::unexpected(load_error(where, "status of \"" + event + "\" must be a string"));
        file.statuses.emplace_back(event, status.get<std::string>());
      }
    } else if (key == "stockEvents" && shape.stock_events) {
      if (!value.is_object()) return tl::unexpected(load_error(where, "must map event names to true (in stock) or false"));
      for (const auto& [event, in_stock] : value.items()) {
        if (event == "comment") continue;
        if (!in_stock.is_boolean())
          return tl::unexpected(load_error(where, "\"" + event + "\" must be true (in stock) or false (out of stock)"));
        file.stock_events.emplace_back(event, in_stock.get<bool>());
      }
    } else {
      return tl::unexpected(load_error(name, "unknown key \"" + key + "\""));
    }
  }
  for (const auto& list : shape.required_lists)
    if (!file.lists.count(list)) return tl::unexpected(load_error(name, "missing the rule list \"" + list + "\""));
  if (shape.custom_fields && !file.custom_fields)
    return tl::unexpected(load_error(name, "missing \"customFields\""));
  if (shape.statuses && file.statuses.empty()) return tl::unexpected(load_error(name, "missing \"statuses\""));
  return file;
}

// Gives every source path its parent's id ("context.traits" for "context.traits.email"; "" for "userId"), shared by
// all paths with the same parent, so Source can cache the parent per event; and each (parent, last segment) pair
// a slot, listed in set.parent_leaves, so that Source reads a parent's members once for all of its keys.
void intern_parents(TableSet& set) {
  std::vector<std::string> parents;
  std::vector<std::vector<ParentLeaves::Leaf>> leaves;
  int slots = 0;
  auto intern = [&](SourcePath& path) {
    if (path.segments.empty()) return;
    const std::string& key = path.segments.back();
    const std::string parent = path.segments.size() < 2 ? std::string() : path.text.substr(0, path.text.size() - key.size() - 1);
    auto it = std::find(parents.begin(), parents.end(), parent);
    if (it == parents.end()) {
      if (parents.size() >= static_cast<std::size_t>(max_interned_parents)) return;
      it = parents.insert(parents.end(), parent);
      leaves.emplace_back();
    }
    path.parent_id = static_cast<int>(it - parents.begin());
    auto& own = leaves[static_cast<std::size_t>(path.parent_id)];
    auto leaf = std::find_if(own.begin(), own.end(), [&](const ParentLeaves::Leaf& l) { return l.key == key; });
    if (leaf != own.end()) path.slot = leaf->slot;
    else if (slots < max_leaf_slots) own.push_back({key, path.slot = slots++});
  };
  for (auto* file : {&set.contact, &set.custom_event, &set.order, &set.lineitems, &set.variant, &set.product}) {
    for (auto& [name, list] : file->lists)
      for (auto& rule : list.rules)
        for (auto& path : rule.from) intern(path);
    if (file->custom_fields)
      for (auto& path : file->custom_fields->from) intern(path);
  }
  for (auto& [name, paths] : set.generic)
    for (auto& path : paths) intern(path);

  set.parent_leaves.clear();
  for (auto& own : leaves) {
    ParentLeaves& out = set.parent_leaves.emplace_back();
    auto bucket = [](const ParentLeaves::Leaf& l) { return std::min(l.key.size(), ParentLeaves::longest_bucket); };
    std::stable_sort(own.begin(), own.end(), [&](const auto& a, const auto& b) { return bucket(a) < bucket(b); });
    out.leaves = std::move(own);
    for (std::size_t n = 0, i = 0; n < out.by_length.size(); ++n) {
      while (i < out.leaves.size() && bucket(out.leaves[i]) < n) ++i;
      out.by_length[n] = static_cast<std::uint16_t>(i);
    }
  }
}

}  // namespace

Expected<GenericLookups> parse_generic_file(const Expected<std::string>& text) {
  auto generic = parse_json_text("generic.json", text);
  if (!generic) return tl::unexpected(generic.error());
  if (!generic->is_object()) return tl::unexpected(load_error("generic.json", "must be an object of name -> paths"));
  GenericLookups out;
  for (const auto& [name, paths] : generic->items()) {
    if (name == "description" || name == "comment") continue;
    if (!paths.is_array() || paths.empty())
      return tl::unexpected(load_error("generic.json " + name, "must be a non-empty list of paths"));
    std::vector<SourcePath> compiled;
    for (const auto& p : paths) {
      auto path = compile_path(p, "generic.json " + name);
      if (!path) return tl::unexpected(path.error());
      compiled.push_back(std::move(*path));
    }
    out.emplace(name, std::move(compiled));
  }
  return out;
}

Expected<MappingFile> parse_mapping_file(const std::string& name, const std::string& text, const GenericLookups& generic) {
  static const std::map<std::string, FileShape, std::less<>> shapes = {
      {"contact.json", {{"fields"}, true, false}},
      {"custom_event.json", {{"fields"}, true, false}},
      {"order.json", {{"fields", "customer", "address"}, true, true}},
      {"lineitems.json", {{"fields"}, true, false}},
      {"variant.json", {{"fields"}, false, false}},
      {"product.json", {{"fields", "attribute", "listing"}, true, false, true}},
  };
  const auto shape = shapes.find(name);
  if (shape == shapes.end()) return fail(errc::invalid_config, "unknown mapping file " + name, name);
  return load_file(name, text, shape->second, generic);
}

Expected<TableSet> load_tables(const std::filesystem::path& dir, std::span<const TableContract> contracts) {
  return parse_tables([&dir](const std::string& name) -> Expected<std::string> {
    constexpr std::uintmax_t max_file_bytes = 1 << 20;
    const auto path = dir / name;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return fail(errc::invalid_config, "cannot read mapping file " + path.string() + ": " + ec.message(), path.string());
    if (size > max_file_bytes) return fail(errc::invalid_config, "mapping file " + path.string() + " is over 1 MiB", path.string());
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in) return fail(errc::invalid_config, "cannot read mapping file " + path.string(), path.string());
    return buffer.str();
  }, contracts);
}

Expected<TableSet> parse_tables(const FileReader& read, std::span<const TableContract> contracts) {
  TableSet set;
  auto generic = parse_generic_file(read("generic.json"));
  if (!generic) return tl::unexpected(generic.error());
  set.generic = std::move(*generic);
  const std::pair<MappingFile*, const char*> files[] = {{&set.contact, "contact.json"},
                                                        {&set.custom_event, "custom_event.json"},
                                                        {&set.order, "order.json"},
                                                        {&set.lineitems, "lineitems.json"},
                                                        {&set.variant, "variant.json"},
                                                        {&set.product, "product.json"}};
  for (const auto& [target, name] : files) {
    auto text = read(name);
    if (!text) return tl::unexpected(text.error());
    auto file = parse_mapping_file(name, *text, set.generic);
    if (!file) return tl::unexpected(file.error());
    *target = std::move(*file);
  }
  if (auto broken = check_contract(set, contracts)) return tl::unexpected(*broken);
  intern_parents(set);
  auto own_orders = parse_own_orders(read("own_orders.json"), set);
  if (!own_orders) return tl::unexpected(own_orders.error());
  set.own_orders = std::move(*own_orders);
  return set;
}

}  // namespace omt::mapping

