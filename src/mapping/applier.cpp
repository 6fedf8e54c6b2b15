// Applying a table to one event: rudder-transformer's constructPayload (first qualifying source wins,
// required checks over every rule first), then each rule's type check, transforms and validator in table
// order; and extractCustomFields. Pure: reads the event and the tables, writes only the output object.
#include "mapping/applier.hpp"

#include <algorithm>
#include <cstring>

#include "json/member.hpp"
#include "omt/validate/validators.hpp"

namespace omt::mapping {
namespace dom = simdjson::dom;

namespace {

// One step of a path: a key of an object (json::member: the last duplicate wins, as JSON.parse) or an index of
// an array.
std::optional<dom::element> step(dom::element current, std::string_view segment) {
  if (current.is_object()) return json::member(current, segment);
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
  if (id < 0 || id >= max_interned_parents) return walk(root_, path.segments, path.segments.size());
  const auto parent = static_cast<std::size_t>(id);
  if (state_[parent] == unknown) {
    auto found_parent = walk(root_, path.segments, path.segments.size() - 1);
    state_[parent] = found_parent ? found : missing;
    if (found_parent) parents_[parent] = *found_parent;
  }
  if (state_[parent] == missing) return std::nullopt;
  if (path.slot >= 0 && path.slot < max_leaf_slots && leaves_ && parent < leaves_->size()) {
    if (state_[parent] == found && parents_[parent].is_object()) fill_slots(parent);
    if (state_[parent] == slots_filled) {
      const auto slot = static_cast<std::size_t>(path.slot);
      if (!slot_found_[slot]) return std::nullopt;
      return slots_[slot].value;
    }
  }
  return step(parents_[parent], path.segments.back());
}

void Source::fill_slots(std::size_t parent) {
  const ParentLeaves& wanted = (*leaves_)[parent];
  for (const auto& leaf : wanted.leaves) slot_found_[static_cast<std::size_t>(leaf.slot)] = false;
  const dom::object fields = json::as_object(parents_[parent]);
  const auto end = fields.end();
  for (auto field = fields.begin(); field != end; ++field) {
    const std::size_t length = field.key_length();
    const std::size_t bucket = std::min(length, ParentLeaves::longest_bucket);
    const std::size_t last = wanted.by_length[bucket + 1];
    for (std::size_t i = wanted.by_length[bucket]; i < last; ++i) {
      const std::string& key = wanted.leaves[i].key;
      const char* text = field.key_c_str();
      if (key.size() != length || (length != 0 && (text[0] != key[0] || std::memcmp(text, key.data(), length) != 0)))
        continue;
      const auto slot = static_cast<std::size_t>(wanted.leaves[i].slot);
      slots_[slot].value = field.value();  // a later duplicate overwrites: the last one wins, as JSON.parse
      slot_found_[slot] = true;
      break;
    }
  }
  state_[parent] = slots_filled;
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
  // The loaders refuse a key mapped twice (only an ifEmpty fallback may follow the rule of its key), so the key of
  // a rule that is not a fallback is not in the payload yet: appended, without a search of what is there.
  const auto add = [&payload](const Rule& rule, json::OutValue value) {
    payload.members.push_back(json::OutMember{rule.to, std::move(value)});
  };
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& rule = rules.rules[i];
    std::optional<dom::element> value;
    if (rule.if_empty) {
      json::OutValue* earlier = payload.find(rule.to);
      if (earlier && json::truthy(*earlier)) continue;
      if (auto v = source.get(rule.from.front()); v && !v->is_null()) {
        payload.set(rule.to, *v);
        origin[i] = &rule.from.front();
      } else if (earlier) {
        payload.erase(rule.to);
      }
      continue;
    }
    if (rule.keep_empty) {
      value = source.get(rule.from.front());
      if (value) {
        add(rule, *value);
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
        add(rule, *mapped);
        continue;
      }
      value.reset();  // not listed: dropped, as multikeyMap does
    }
    if (value) add(rule, *value);
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
    if (forbidden_key(key) || spec.excludes(key)) continue;
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
