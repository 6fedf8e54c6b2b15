// The ingest endpoints' pure parts: body shapes, per-event transformation and the answers.
#include "omt/protocol/ingest.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "omt/core/text.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/sources/source_mapper.hpp"
#include "protocol/batch_merge_internal.hpp"
#include "protocol/json_body.hpp"

namespace omt::protocol {
namespace dom = simdjson::dom;

namespace {

// The type a single-event route gives an event that names none: the route's own name.
std::string_view default_type(IngestRoute route) {
  switch (route) {
    case IngestRoute::identify: return "identify";
    case IngestRoute::track: return "track";
    case IngestRoute::page: return "page";
    case IngestRoute::screen: return "screen";
    case IngestRoute::group: return "group";
    case IngestRoute::alias: return "alias";
    case IngestRoute::webhook:
    case IngestRoute::batch:
    case IngestRoute::beacon: return "";
  }
  return "";
}

// The event's call type when it is one Ometria has no record for, else nullopt.
std::optional<std::string_view> skipped_type(dom::element event) {
  const auto type = json::member(event, "type");
  if (!type || !type->is_string()) return std::nullopt;
  const std::string_view name = type->get_string().value_unsafe();
  for (std::string_view skipped : skipped_call_types)
    if (text::iequals(name, skipped)) return skipped;
  return std::nullopt;
}

// {"a":1} -> {"type":"track","a":1}; {} -> {"type":"track"}. The body is known to be a JSON object.
std::string with_type(std::string_view body, std::string_view type, bool empty_object) {
  const auto brace = body.find('{');
  std::string out;
  out.reserve(body.size() + type.size() + 12);
  out += "{\"type\":\"";
  out += type;
  out += '"';
  if (empty_object) {
    out += '}';
    return out;
  }
  out += ',';
  out.append(body.substr(brace + 1));
  return out;
}

std::string expected_shape(IngestRoute route) {
  switch (route) {
    case IngestRoute::webhook: return "an event object or a non-empty JSON array of event objects";
    case IngestRoute::identify: return "one identify event object";
    case IngestRoute::track: return "one track event object";
    case IngestRoute::page: return "one page event object";
    case IngestRoute::screen: return "one screen event object";
    case IngestRoute::group: return "one group event object";
    case IngestRoute::alias: return "one alias event object";
    case IngestRoute::batch:
    case IngestRoute::beacon: return R"(an object {"batch":[event objects]} with a non-empty batch)";
  }
  return "";
}

Error wrong_shape(IngestRoute route, std::string_view got) {
  return Error{errc::invalid_request, "Expected " + expected_shape(route) + ", got " + std::string(got), ""};
}

void write_rejected(std::string& out, const std::vector<RejectedEvent>& rejected) {
  out += "\"rejected\":[";
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += "{\"index\":" + std::to_string(rejected[i].index) + ",\"error\":";
    json::write_string(out, rejected[i].error);
    out += '}';
  }
  out += ']';
}

// 400 only when the request held no event at all (every item not an event object): a rejected event is kept for
// replay, and skipped calls are fine, so either makes a 200.
int status_of(const IngestResult& result) {
  const bool kept = !result.accepted.empty() || !result.skipped.empty() ||
                    std::any_of(result.rejected.begin(), result.rejected.end(), is_event);
  return kept ? 200 : 400;
}

// ,"skipped":N when some were (absent otherwise, so the answers of requests without such calls stay as they were).
void write_skipped(std::string& out, const IngestResult& result) {
  if (!result.skipped.empty()) out += "\"skipped\":" + std::to_string(result.skipped.size()) + ',';
}

}  // namespace

std::string_view path_of(IngestRoute route) {
  switch (route) {
    case IngestRoute::webhook: return "/v1/webhook";
    case IngestRoute::identify: return "/v1/identify";
    case IngestRoute::track: return "/v1/track";
    case IngestRoute::batch: return "/v1/batch";
    case IngestRoute::page: return "/v1/page";
    case IngestRoute::screen: return "/v1/screen";
    case IngestRoute::group: return "/v1/group";
    case IngestRoute::alias: return "/v1/alias";
    case IngestRoute::beacon: return "/beacon/v1/batch";
  }
  return "";
}

std::chrono::milliseconds ingest_slow_down(std::uint64_t depth, std::uint64_t high_water_mark, const IngestLimits& limits) {
  const std::uint64_t from = limits.slow_down_from;
  if (from == 0 || depth < from || limits.max_slow_down.count() <= 0) return std::chrono::milliseconds(0);
  if (high_water_mark <= from || depth >= high_water_mark) return limits.max_slow_down;
  // At least 1 ms once over the threshold, so that the first step already yields to delivery.
  const double share = static_cast<double>(depth - from) / static_cast<double>(high_water_mark - from);
  const auto held = static_cast<std::int64_t>(share * static_cast<double>(limits.max_slow_down.count()));
  return std::chrono::milliseconds(std::clamp<std::int64_t>(held, 1, limits.max_slow_down.count()));
}

bool is_dry_run(std::string_view target) {
  const auto value = query_parameter(target, "dry_run");
  return value && (value->empty() || text::iequals(*value, "true") || *value == "1" || text::iequals(*value, "yes"));
}

// ---- events -----------------------------------------------------------------------------------------------------

Expected<IngestResult> ingest_events(IngestRoute route, std::string_view body, const ometria::Transformer& transformer,
                                     const config::SourceConfig& source, const IngestLimits& limits,
                                     std::size_t readable_bytes, const Arrival* arrival) {
  BodyParser parser;
  auto root = parser.parse(body, readable_bytes);
  if (!root) return tl::unexpected(root.error());

  // The events to transform, and whether the body was one event (a single object) or a list.
  std::string typed_body;  // keeps a rewritten single event alive while it is parsed
  std::vector<dom::element> events;
  BatchLevel batch_level;  // /v1/batch only
  switch (route) {
    case IngestRoute::identify:
    case IngestRoute::track:
    case IngestRoute::page:
    case IngestRoute::screen:
    case IngestRoute::group:
    case IngestRoute::alias: {
      if (!root->is_object()) return tl::unexpected(wrong_shape(route, json::type_name(*root)));
      if (!json::member(*root, "type")) {
        // The path names the type when the event does not: add it in front and parse the event again.
        typed_body = with_type(body, default_type(route), json::as_object(*root).size() == 0);
        root = parser.parse(typed_body);
        if (!root) return tl::unexpected(root.error());
      }
      events.push_back(*root);
      break;
    }
    case IngestRoute::webhook: {
      if (root->is_object()) {
        events.push_back(*root);
      } else if (root->is_array()) {
        const dom::array list = json::as_array(*root);
        if (list.size() == 0) return tl::unexpected(wrong_shape(route, "an empty array"));
        if (list.size() > limits.max_events_per_request)
          return fail(errc::too_large, "Too many events in one request: " + std::to_string(list.size()) +
                                           " (at most " + std::to_string(limits.max_events_per_request) + ")");
        for (dom::element e : list) events.push_back(e);
      } else {
        return tl::unexpected(wrong_shape(route, json::type_name(*root)));
      }
      break;
    }
    case IngestRoute::batch:
    case IngestRoute::beacon: {
      if (!root->is_object()) return tl::unexpected(wrong_shape(route, json::type_name(*root)));
      const auto batch = json::member(*root, "batch");
      if (!batch) return tl::unexpected(wrong_shape(route, "an object without \"batch\""));
      if (!batch->is_array()) return tl::unexpected(wrong_shape(route, "\"batch\" of type " + std::string(json::type_name(*batch))));
      const dom::array list = json::as_array(*batch);
      if (list.size() == 0) return tl::unexpected(wrong_shape(route, "an empty batch"));
      if (list.size() > limits.max_events_per_request)
        return fail(errc::too_large, "Too many events in one request: " + std::to_string(list.size()) +
                                         " (at most " + std::to_string(limits.max_events_per_request) + ")");
      for (dom::element e : list) events.push_back(e);
      auto level = batch_level_of(*root);
      if (!level) return tl::unexpected(level.error());
      batch_level = std::move(*level);
      break;
    }
  }

  // Events that gain batch-level "context" / "integrations", or the gateway's stamps, are written out and parsed
  // again, each in turn, by a parser of their own (the body's document must stay valid).
  std::optional<simdjson::dom::parser> merge_parser;
  std::string merged;  // the current rewritten event's text, alive while it is transformed
  IngestResult result;
  result.events = events.size();
  result.accepted.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    dom::element event = events[i];
    if (!event.is_object()) {
      result.rejected.push_back({i, "Expected an event object, got " + std::string(json::type_name(event)), ""});
      continue;
    }
    if (batch_level.any() && needs_merge(event, batch_level)) {
      if (!merge_parser) merge_parser.emplace();
      merged = merged_event(event, batch_level);
      if (merge_parser->parse(merged).get(event) != simdjson::SUCCESS) {
        result.rejected.push_back(
            {i, "The event with the batch-level context merged in is not valid JSON", simdjson::minify(events[i])});
        continue;
      }
    }
    if (const auto type = skipped_type(event)) {
      result.skipped.push_back({i, std::string(*type)});
      continue;
    }
    if (arrival) {
      if (auto stamped = gateway_stamp(event, *arrival)) {
        if (!merge_parser) merge_parser.emplace();
        merged = std::move(*stamped);
        if (merge_parser->parse(merged).get(event) != simdjson::SUCCESS) {
          result.rejected.push_back({i, "The event with the gateway's fields stamped is not valid JSON", ""});
          continue;
        }
      }
    }
    auto mapped = sources::map_event(transformer, event, source);
    if (!mapped) {
      result.rejected.push_back({i, std::move(mapped.error().message), simdjson::minify(event)});
    } else if (mapped->skip) {
      result.skipped.push_back({i, std::move(mapped->skip->outcome)});
    } else {
      result.accepted.push_back({i, std::move(*mapped->record), std::move(mapped->incomplete_product)});
    }
  }
  return result;
}

std::vector<std::pair<std::string_view, std::size_t>> skipped_by_outcome(const IngestResult& result) {
  std::vector<std::pair<std::string_view, std::size_t>> counts;
  for (const auto& skipped : result.skipped) {
    std::string_view outcome = skipped.type;
    for (std::string_view call_type : skipped_call_types)
      if (outcome == call_type) outcome = "skipped";
    auto counted = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == outcome; });
    if (counted == counts.end()) counts.emplace_back(outcome, 1);
    else ++counted->second;
  }
  return counts;
}

// ---- answers ----------------------------------------------------------------------------------------------------

Reply ingest_answer(const IngestResult& result) {
  Reply reply;
  reply.api_version_header = false;
  reply.status = status_of(result);
  reply.body = "{\"accepted\":" + std::to_string(result.accepted.size()) + ',';
  write_skipped(reply.body, result);
  write_rejected(reply.body, result.rejected);
  reply.body += '}';
  return reply;
}

bool has_anything_to_store(const IngestResult& result) {
  return !result.accepted.empty() || std::any_of(result.rejected.begin(), result.rejected.end(), is_event);
}

Expected<std::optional<ometria::Record>> transform_stored_event(std::string_view event_json,
                                                                const ometria::Transformer& transformer,
                                                                const config::SourceConfig& source) {
  BodyParser parser;
  auto event = parser.parse(event_json);
  if (!event) return tl::unexpected(event.error());
  if (!event->is_object()) return fail(errc::invalid_request, "Expected an event object, got " + std::string(json::type_name(*event)));
  if (skipped_type(*event)) return std::optional<ometria::Record>{};
  auto mapped = sources::map_event(transformer, *event, source);
  if (!mapped) return tl::unexpected(std::move(mapped.error()));
  if (mapped->skip) return std::optional<ometria::Record>{};  // the source's settings now skip it
  return std::optional<ometria::Record>(std::move(*mapped->record));
}

Reply dry_run_answer(const IngestResult& result, std::string_view api_key, const IngestLimits& limits,
                     const std::function<std::string(std::string_view)>& key_name) {
  std::vector<ometria::PushKey> keys;
  keys.reserve(result.accepted.size());
  for (const auto& accepted : result.accepted) keys.push_back({api_key, accepted.record.type});
  auto pushes = ometria::group_into_pushes(keys, limits.max_batch_records);
  // In the order delivery would start them: a push opens with its first record.
  std::stable_sort(pushes.begin(), pushes.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });

  Reply reply;
  reply.api_version_header = false;
  reply.status = status_of(result);
  std::string& out = reply.body;
  out = "{\"dry_run\":true,\"accepted\":" + std::to_string(result.accepted.size()) + ",\"batches\":[";
  for (std::size_t b = 0; b < pushes.size(); ++b) {
    if (b) out += ',';
    out += "{\"api_key\":";
    json::write_string(out, key_name(api_key));
    out += ",\"type\":";
    json::write_string(out, ometria::to_string(result.accepted[pushes[b].front()].record.type));
    out += ",\"records\":[";
    for (std::size_t r = 0; r < pushes[b].size(); ++r) {
      if (r) out += ',';
      out += result.accepted[pushes[b][r]].record.json;
    }
    out += "]}";
  }
  out += "],";
  write_skipped(out, result);
  write_rejected(out, result.rejected);
  out += '}';
  return reply;
}

Reply ingest_error(const Error& error) {
  Reply reply = error_reply(http_status(error.code), error.message);
  reply.api_version_header = false;
  return reply;
}

}  // namespace omt::protocol
