#include "mapping/engine.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "omt/validate/validators.hpp"

namespace omt::mapping {
namespace dom = simdjson::dom;
using njson = nlohmann::json;

namespace {

// ---- loading --------------------------------------------------------------------------------------------------

constexpr std::size_t max_path_segments = 16;

Error load_error(const std::string& where, const std::string& what) {
  return Error{errc::invalid_config, "mapping error in " + where + ": " + what, where};
}

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

Expected<Rule> compile_rule(const njson& j, const std::string& where,
                            const std::map<std::string, std::vector<SourcePath>, std::less<>>& generic) {
  static const std::unordered_set<std::string> known = {"to", "from", "generic", "required", "keepEmpty", "type",
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

Expected<njson> parse_json_text(const std::string& name, const Expected<std::string>& text) {
  if (!text) return tl::unexpected(text.error());
  njson j = njson::parse(*text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (j.is_discarded()) return fail(errc::invalid_config, "mapping file " + name + " is not valid JSON", name);
  return j;
}

struct FileShape {
  std::vector<std::string> required_lists;  // "fields" always
  bool custom_fields = false;
  bool statuses = false;
};

Expected<MappingFile> load_file(const TableSet::FileReader& read, const std::string& name, const FileShape& shape,
                                const std::map<std::string, std::vector<SourcePath>, std::less<>>& generic) {
  auto j = parse_json_text(name, read(name));
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
        auto rule = compile_rule(value[i], name + " " + key + "[" + std::to_string(i) + "]", generic);
        if (!rule) return tl::unexpected(rule.error());
        for (const auto& other : list.rules)
          if (other.to == rule->to)
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
        std::sort(cf.exclude.begin(), cf.exclude.end());
      }
      file.custom_fields = std::move(cf);
    } else if (key == "statuses" && shape.statuses) {
      if (!value.is_object() || value.empty())
        return tl::unexpected(load_error(where, "must map event names to order statuses"));
      for (const auto& [event, status] : value.items()) {
        if (!status.is_string()) return tl::unexpected(load_error(where, "status of \"" + event + "\" must be a string"));
        file.statuses.emplace_back(event, status.get<std::string>());
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

// Gives every source path with a parent ("context.traits" for "context.traits.email") the id of that parent,
// shared by all paths with the same parent, so Source can cache it per event.
void intern_parents(TableSet& set) {
  std::vector<std::string> parents;
  auto intern = [&](SourcePath& path) {
    if (path.segments.size() < 2) return;
    const std::string parent = path.text.substr(0, path.text.size() - path.segments.back().size() - 1);
    auto it = std::find(parents.begin(), parents.end(), parent);
    if (it == parents.end()) {
      if (parents.size() >= static_cast<std::size_t>(Source::max_cached_parents)) return;
      it = parents.insert(parents.end(), parent);
    }
    path.parent_id = static_cast<int>(it - parents.begin());
  };
  for (auto* file : {&set.contact, &set.custom_event, &set.order, &set.lineitems, &set.variant}) {
    for (auto& [name, list] : file->lists)
      for (auto& rule : list.rules)
        for (auto& path : rule.from) intern(path);
    if (file->custom_fields)
      for (auto& path : file->custom_fields->from) intern(path);
  }
  for (auto& [name, paths] : set.generic)
    for (auto& path : paths) intern(path);
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
  };
  const auto shape = shapes.find(name);
  if (shape == shapes.end()) return fail(errc::invalid_config, "unknown mapping file " + name, name);
  return load_file([&text](const std::string&) -> Expected<std::string> { return text; }, name, shape->second, generic);
}

Expected<TableSet> TableSet::load(const std::filesystem::path& dir) {
  return parse([&dir](const std::string& name) -> Expected<std::string> {
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
  });
}

Expected<TableSet> TableSet::parse(const FileReader& read) {
  TableSet set;
  auto generic = parse_generic_file(read("generic.json"));
  if (!generic) return tl::unexpected(generic.error());
  set.generic = std::move(*generic);
  const std::pair<MappingFile*, const char*> files[] = {{&set.contact, "contact.json"},
                                                        {&set.custom_event, "custom_event.json"},
                                                        {&set.order, "order.json"},
                                                        {&set.lineitems, "lineitems.json"},
                                                        {&set.variant, "variant.json"}};
  for (const auto& [target, name] : files) {
    auto text = read(name);
    if (!text) return tl::unexpected(text.error());
    auto file = parse_mapping_file(name, *text, set.generic);
    if (!file) return tl::unexpected(file.error());
    *target = std::move(*file);
  }
  intern_parents(set);
  return set;
}

// ---- applying -------------------------------------------------------------------------------------------------

namespace {

bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
}

// One step of a path: a key of an object (the last duplicate wins, as JSON.parse) or an index of an array.
std::optional<dom::element> step(dom::element current, std::string_view segment) {
  if (current.is_object()) {
    std::optional<dom::element> found;
    for (auto field : json::as_object(current))
      if (same_key(field.key, segment)) found = field.value;
    return found;
  }
  if (current.is_array()) {
    std::size_t index = 0;
    for (char c : segment) {
      if (c < '0' || c > '9' || index > 100000000) return std::nullopt;
      index = index * 10 + static_cast<std::size_t>(c - '0');
    }
    auto item = json::as_array(current).at(index);
    if (item.error()) return std::nullopt;
    return item.value_unsafe();
  }
  return std::nullopt;
}

std::optional<dom::element> walk(dom::element current, const std::vector<std::string>& segments, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    auto next = step(current, segments[i]);
    if (!next) return std::nullopt;
    current = *next;
  }
  return current;
}

}  // namespace

std::optional<dom::element> Source::get(const SourcePath& path) {
  const int id = path.parent_id;
  if (id < 0 || id >= max_cached_parents) return walk(root_, path.segments, path.segments.size());
  const auto slot = static_cast<std::size_t>(id);
  if (state_[slot] == 0) {
    auto parent = walk(root_, path.segments, path.segments.size() - 1);
    state_[slot] = parent ? 1 : 2;
    if (parent) parents_[slot] = *parent;
  }
  if (state_[slot] == 2) return std::nullopt;
  return step(parents_[slot], path.segments.back());
}

std::optional<dom::element> lookup(dom::element root, const SourcePath& path) {
  return walk(root, path.segments, path.segments.size());
}

std::optional<dom::element> first_qualifying(dom::element root, const std::vector<SourcePath>& paths) {
  for (const auto& path : paths)
    if (auto v = lookup(root, path); v && json::qualifies(*v)) return v;
  return std::nullopt;
}

namespace {

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string apply_transforms(std::string_view s, const std::vector<Transform>& transforms) {
  std::string out(s);
  for (auto t : transforms) {
    switch (t) {
      case Transform::trim: {
        std::size_t b = 0, e = out.size();
        while (b < e && ascii_space(out[b])) ++b;
        while (e > b && ascii_space(out[e - 1])) --e;
        out = out.substr(b, e - b);
        break;
      }
      case Transform::upper:
        for (auto& c : out)
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        break;
      case Transform::lower:
        for (auto& c : out)
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        break;
    }
  }
  return out;
}

}  // namespace

Expected<json::OutObject> apply(const RuleList& rules, Source& source, json::Arena& arena) {
  json::OutObject payload;
  payload.members.reserve(rules.rules.size() + 6);
  // Which source path each mapped value came from, for type errors that name the field.
  std::vector<const SourcePath*> origin(rules.rules.size(), nullptr);

  // Pass 1: constructPayload. Values are set only when they qualify; a required value that doesn't is an error.
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& rule = rules.rules[i];
    std::optional<dom::element> value;
    if (rule.keep_empty) {
      value = source.get(rule.from.front());
      if (value) {
        payload.set(rule.to, *value);
        origin[i] = &rule.from.front();
        continue;
      }
    } else {
      for (const auto& path : rule.from)
        if (auto v = source.get(path); v && json::qualifies(*v)) {
          value = v;
          origin[i] = &path;
          break;
        }
    }
    if (value && !rule.value_map.empty()) {
      std::optional<std::string_view> mapped;
      if (value->is_string()) {
        const std::string_view s = value->get_string().value_unsafe();
        for (const auto& entry : rule.value_map)
          for (const auto& from : entry.from)
            if (from == s) mapped = entry.to;
      }
      if (mapped) {
        payload.set(rule.to, *mapped);
        continue;
      }
      value.reset();  // not listed: dropped, as multikeyMap does
    }
    if (value) payload.set(rule.to, *value);
    else if (rule.required)
      return fail(errc::instrumentation, "Missing required value from " + rule.sources_json,
                  rule.from.empty() ? std::string() : rule.from.front().text);
  }

  // Pass 2: type checks, transforms and validators, in table order.
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& rule = rules.rules[i];
    if (!rule.must_be_string && rule.transforms.empty() && rule.validator == Validator::none) continue;
    json::OutValue* slot = payload.find(rule.to);
    if (!slot) continue;
    std::optional<std::string_view> text;
    std::optional<dom::element> element;
    if (auto* sv = std::get_if<std::string_view>(&slot->v)) text = *sv;
    else if (auto* el = std::get_if<dom::element>(&slot->v)) {
      element = *el;
      if (el->is_string()) text = std::string_view(el->get_string().value_unsafe());
    }
    if (rule.must_be_string && !text) {
      const std::string where = origin[i] ? origin[i]->text : rule.to;
      return fail(errc::instrumentation,
                  where + " must be a string, got " + std::string(element ? json::type_name(*element) : "boolean"), where);
    }
    if (text && !rule.transforms.empty()) {
      text = arena.keep(apply_transforms(*text, rule.transforms));
      *slot = json::OutValue(*text);
    }
    bool valid = true;
    switch (rule.validator) {
      case Validator::none: break;
      case Validator::e164: {
        auto normalised = text ? validate::e164_phone(*text) : std::nullopt;
        if (normalised) *slot = json::OutValue(arena.keep(std::move(*normalised)));
        else valid = false;
        break;
      }
      case Validator::iso8601: valid = text && validate::is_iso8601_datetime(*text); break;
      case Validator::iso4217: {
        auto code = text ? validate::iso4217_currency(*text) : std::nullopt;
        if (code) *slot = json::OutValue(arena.keep(std::move(*code)));
        else valid = false;
        break;
      }
      case Validator::boolean:
        // As rudder-transformer: a truthy value that is not a boolean is invalid.
        valid = (element && element->is_bool()) || !json::truthy(*slot);
        break;
    }
    if (!valid) {
      if (rule.on_invalid == OnInvalid::fail)
        return fail(errc::instrumentation, rule.error, origin[i] ? origin[i]->text : rule.to);
      payload.erase(rule.to);
    }
  }
  return payload;
}

namespace {

bool forbidden_key(std::string_view key) { return key == "__proto__" || key == "constructor" || key == "prototype"; }

// set-value: "a.b" nests as {"a":{"b":...}}; a non-object on the way is replaced by an object.
void set_nested(json::OutObject& target, std::string_view key, json::OutValue value) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == key.size() || key.find("..") != std::string_view::npos) {
    target.set(key, std::move(value));
    return;
  }
  const std::string_view head = key.substr(0, dot);
  json::OutValue* slot = target.find(head);
  if (!slot) {
    target.set(head, json::OutObject{});
    slot = target.find(head);
  } else if (auto* el = std::get_if<dom::element>(&slot->v); el && el->is_object()) {
    json::OutObject copy;
    for (auto field : json::as_object(*el)) copy.set(field.key, field.value);
    *slot = std::move(copy);
  } else if (!std::holds_alternative<json::OutObject>(slot->v)) {
    *slot = json::OutObject{};
  }
  set_nested(std::get<json::OutObject>(slot->v), key.substr(dot + 1), std::move(value));
}

void copy_fields(json::OutObject& out, dom::object from, const CustomFields& spec) {
  for (auto field : from) {
    const std::string_view key = field.key;
    if (forbidden_key(key) || std::binary_search(spec.exclude.begin(), spec.exclude.end(), key, std::less<>{})) continue;
    set_nested(out, key, field.value);
  }
}

}  // namespace

json::OutObject extract_custom_fields(const CustomFields& spec, Source& source) {
  json::OutObject out;
  if (spec.root) {
    if (source.root().is_object()) copy_fields(out, json::as_object(source.root()), spec);
    return out;
  }
  for (const auto& path : spec.from)
    if (auto obj = source.get(path); obj && obj->is_object()) copy_fields(out, json::as_object(*obj), spec);
  return out;
}

}  // namespace omt::mapping
