#include "omt/protocol/batch_merge.hpp"

#include "json/member.hpp"
#include "protocol/batch_merge_internal.hpp"
#include "protocol/json_body.hpp"

namespace omt::protocol {

// Integers exactly as parsed: json::write would print those past 2^53 the way JSON.stringify does, which
// simdjson may then refuse.
void write_reparsable(std::string& out, dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      for (auto f : json::as_object(e)) {
        if (!first) out.push_back(',');
        first = false;
        json::write_string(out, f.key);
        out.push_back(':');
        write_reparsable(out, f.value);
      }
      out.push_back('}');
      return;
    }
    case dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (auto item : json::as_array(e)) {
        if (!first) out.push_back(',');
        first = false;
        write_reparsable(out, item);
      }
      out.push_back(']');
      return;
    }
    case dom::element_type::INT64: out += std::to_string(std::int64_t(e.get_int64().value_unsafe())); return;
    case dom::element_type::UINT64: out += std::to_string(std::uint64_t(e.get_uint64().value_unsafe())); return;
    default: json::write(out, e); return;
  }
}

Expected<BatchLevel> batch_level_of(dom::element root) {
  BatchLevel level;
  for (std::size_t k = 0; k < batch_level_keys.size(); ++k) {
    const auto value = json::member(root, batch_level_keys[k]);
    if (!value || value->is_null()) continue;
    if (!value->is_object())
      return fail(errc::invalid_request,
                  "Expected \"" + std::string(batch_level_keys[k]) +
                      "\" beside \"batch\" to be an object (it is merged into each event), got " +
                      std::string(json::type_name(*value)),
                  std::string(batch_level_keys[k]));
    level.objects[k] = *value;
  }
  return level;
}

bool needs_merge(dom::element event, const BatchLevel& level) {
  for (std::size_t k = 0; k < batch_level_keys.size(); ++k) {
    if (!level.objects[k]) continue;
    const dom::object batch_object = json::as_object(*level.objects[k]);
    if (batch_object.size() == 0) continue;
    const auto own = json::member(event, batch_level_keys[k]);
    if (!own || own->is_null()) return true;
    if (!own->is_object()) continue;  // the event's own value wins
    for (auto f : batch_object)
      if (!json::member(*own, f.key)) return true;
  }
  return false;
}

// The event (an object) with the batch level merged in: the rule of merge_batch_level_fields in the header.
// A duplicated batch-level key is read as JSON.parse reads it (json::member): written once, at its first
// position, with its last value merged.
std::string merged_event(dom::element event, const BatchLevel& level) {
  std::string out;
  out.push_back('{');
  bool first = true;
  auto write_key = [&](std::string_view key) {
    if (!first) out.push_back(',');
    first = false;
    json::write_string(out, key);
    out.push_back(':');
  };
  std::array<bool, batch_level_keys.size()> written{};
  for (auto f : json::as_object(event)) {
    std::size_t k = 0;
    while (k < batch_level_keys.size() && batch_level_keys[k] != f.key) ++k;
    const bool batch_level_key = k < batch_level_keys.size();
    if (batch_level_key && written[k]) continue;
    write_key(f.key);
    if (!batch_level_key) {
      write_reparsable(out, f.value);
      continue;
    }
    written[k] = true;
    const dom::element own = *json::member(event, batch_level_keys[k]);
    if (!level.objects[k] || !(own.is_null() || own.is_object())) {
      write_reparsable(out, own);
    } else if (own.is_null()) {
      write_reparsable(out, *level.objects[k]);
    } else {
      // The event's own keys, then the batch-level keys it lacks.
      out.push_back('{');
      bool first_inner = true;
      auto write_inner = [&](std::string_view key, dom::element value) {
        if (!first_inner) out.push_back(',');
        first_inner = false;
        json::write_string(out, key);
        out.push_back(':');
        write_reparsable(out, value);
      };
      for (auto g : json::as_object(own)) write_inner(g.key, g.value);
      for (auto g : json::as_object(*level.objects[k]))
        if (!json::member(own, g.key)) write_inner(g.key, g.value);
      out.push_back('}');
    }
  }
  for (std::size_t k = 0; k < batch_level_keys.size(); ++k) {
    if (written[k] || !level.objects[k] || json::as_object(*level.objects[k]).size() == 0) continue;
    write_key(batch_level_keys[k]);
    write_reparsable(out, *level.objects[k]);
  }
  out.push_back('}');
  return out;
}

Expected<std::string> merge_batch_level_fields(std::string_view event_json, std::string_view batch_level_json) {
  simdjson::dom::parser event_parser, batch_parser;
  dom::element event, batch;
  if (const auto code = event_parser.parse(event_json).get(event); code != simdjson::SUCCESS)
    return fail(errc::invalid_json, describe_json_error(event_json, code));
  if (const auto code = batch_parser.parse(batch_level_json).get(batch); code != simdjson::SUCCESS)
    return fail(errc::invalid_json, describe_json_error(batch_level_json, code));
  if (!event.is_object())
    return fail(errc::invalid_request, "Expected an event object, got " + std::string(json::type_name(event)));
  if (!batch.is_object())
    return fail(errc::invalid_request, "Expected a batch object, got " + std::string(json::type_name(batch)));
  auto level = batch_level_of(batch);
  if (!level) return tl::unexpected(level.error());
  if (!needs_merge(event, *level)) {
    std::string out;
    write_reparsable(out, event);
    return out;
  }
  return merged_event(event, *level);
}

}  // namespace omt::protocol
