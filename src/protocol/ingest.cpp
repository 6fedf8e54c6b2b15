// The ingest endpoints' pure parts: credentials, body shapes, per-event transformation and the answers.
#include "omt/core/text.hpp"
#include "omt/protocol/ingest.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "json/out_value.hpp"
#include "omt/ometria/push_api.hpp"
#include "protocol/json_body.hpp"

namespace omt::protocol {
namespace dom = simdjson::dom;

namespace {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view text) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

// CRYPTO_memcmp over fixed-length digests: no early exit, no dependence on the secret's length.
bool digests_equal(const Digest& a, const Digest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "<scheme> <credentials>" -> credentials when the scheme matches (case-insensitively).
std::optional<std::string_view> credentials_of(std::string_view header, std::string_view scheme) {
  header = trim(header);
  const auto space = header.find(' ');
  if (space == std::string_view::npos || !text::iequals(header.substr(0, space), scheme)) return std::nullopt;
  return trim(header.substr(space + 1));
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Standard base64; padding optional. nullopt on any other character.
std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return out;
}

std::optional<dom::element> member(dom::element obj, std::string_view key) {
  dom::element value;
  if (!obj.is_object() || obj.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::string_view default_type(IngestRoute route) {
  return route == IngestRoute::identify ? "identify" : route == IngestRoute::track ? "track" : "";
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
    case IngestRoute::batch: return R"(an object {"batch":[event objects]} with a non-empty batch)";
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

// ---- batch-level "context" and "integrations" ----

constexpr std::array<std::string_view, 2> batch_level_keys = {"context", "integrations"};

// The batch-level objects found beside "batch" (null and absent are alike: nothing to merge).
struct BatchLevel {
  std::array<std::optional<dom::element>, batch_level_keys.size()> objects;  // each an object when present
  bool any() const {
    for (const auto& o : objects)
      if (o && json::as_object(*o).size() > 0) return true;
    return false;
  }
};

Expected<BatchLevel> batch_level_of(dom::element root) {
  BatchLevel level;
  for (std::size_t k = 0; k < batch_level_keys.size(); ++k) {
    const auto value = member(root, batch_level_keys[k]);
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

// Compact JSON for parsing again: integers exactly as parsed (json::write would print those past 2^53 the way
// JSON.stringify does, which simdjson may then refuse), doubles in the shortest form that reads back the same.
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

// True when the batch level adds something to this event: it lacks a batch-level key (or has null there), or
// its object there lacks some of the batch-level object's keys.
bool needs_merge(dom::element event, const BatchLevel& level) {
  for (std::size_t k = 0; k < batch_level_keys.size(); ++k) {
    if (!level.objects[k]) continue;
    const dom::object batch_object = json::as_object(*level.objects[k]);
    if (batch_object.size() == 0) continue;
    const auto own = member(event, batch_level_keys[k]);
    if (!own || own->is_null()) return true;
    if (!own->is_object()) continue;  // the event's own value wins
    for (auto f : batch_object)
      if (!member(*own, f.key)) return true;
  }
  return false;
}

// The event (an object) with the batch level merged in: the rule of merge_batch_level_fields in the header.
// simdjson finds the first of duplicated keys, so the first is the one merged and written.
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
    if (batch_level_key) written[k] = true;
    if (!batch_level_key || !level.objects[k] || !(f.value.is_null() || f.value.is_object())) {
      write_reparsable(out, f.value);
    } else if (f.value.is_null()) {
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
      for (auto g : json::as_object(f.value)) write_inner(g.key, g.value);
      for (auto g : json::as_object(*level.objects[k]))
        if (!member(f.value, g.key)) write_inner(g.key, g.value);
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

// Every event can never succeed: 400, so the sender aborts instead of counting them delivered.
int status_of(const IngestResult& result) { return result.accepted.empty() ? 400 : 200; }

}  // namespace

std::string_view path_of(IngestRoute route) {
  switch (route) {
    case IngestRoute::webhook: return "/v1/webhook";
    case IngestRoute::identify: return "/v1/identify";
    case IngestRoute::track: return "/v1/track";
    case IngestRoute::batch: return "/v1/batch";
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

// ---- credentials ------------------------------------------------------------------------------------------------

bool constant_time_equal(std::string_view a, std::string_view b) { return digests_equal(sha256(a), sha256(b)); }

std::optional<std::string> basic_auth_user(std::string_view authorization_header) {
  const auto encoded = credentials_of(authorization_header, "Basic");
  if (!encoded) return std::nullopt;
  auto decoded = base64_decode(*encoded);
  if (!decoded) return std::nullopt;
  // "user:password"; a colon-less value is taken as the user name alone.
  if (const auto colon = decoded->find(':'); colon != std::string::npos) decoded->resize(colon);
  return decoded;
}

std::optional<std::string_view> bearer_token(std::string_view authorization_header) {
  return credentials_of(authorization_header, "Bearer");
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  if (const auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (text::percent_decode(pair.substr(0, eq), true) != name) continue;
    return eq == std::string_view::npos ? std::string{} : text::percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

bool is_dry_run(std::string_view target) {
  const auto value = query_parameter(target, "dry_run");
  return value && (value->empty() || text::iequals(*value, "true") || *value == "1" || text::iequals(*value, "yes"));
}

SourceDirectory::SourceDirectory(std::vector<config::SourceConfig> sources) {
  entries_.reserve(sources.size());
  for (auto& source : sources) {
    Entry entry;
    if (!source.write_key.empty()) entry.write_key = sha256(source.write_key);
    if (!source.webhook_token.empty()) entry.webhook_token = sha256(source.webhook_token);
    entry.source = std::move(source);
    entries_.push_back(std::move(entry));
  }
}

const config::SourceConfig* SourceDirectory::find(std::string_view secret,
                                                  std::optional<Digest> Entry::*which) const {
  if (secret.empty()) return nullptr;
  const Digest presented = sha256(secret);
  const config::SourceConfig* found = nullptr;
  // No early exit: every source is compared, whichever matches.
  for (const auto& entry : entries_) {
    const auto& stored = entry.*which;
    if (stored && digests_equal(*stored, presented)) found = &entry.source;
  }
  return found;
}

const config::SourceConfig* SourceDirectory::by_write_key(std::string_view write_key) const {
  return find(write_key, &Entry::write_key);
}

const config::SourceConfig* SourceDirectory::by_webhook_token(std::string_view token) const {
  return find(token, &Entry::webhook_token);
}

Expected<const config::SourceConfig*> authenticate(IngestRoute route, const SourceDirectory& sources,
                                                   std::string_view authorization_header, std::string_view target) {
  if (uses_write_key(route)) {
    const auto user = basic_auth_user(authorization_header);
    if (!user || user->empty())
      return fail(errc::unauthorized, "Authentication required: HTTP Basic with the source's write key as user name");
    if (const auto* source = sources.by_write_key(*user)) return source;
    return fail(errc::unauthorized, "Unknown write key");
  }
  std::optional<std::string> token;
  if (const auto bearer = bearer_token(authorization_header)) token = std::string(*bearer);
  else token = query_parameter(target, "token");
  if (!token || token->empty())
    return fail(errc::unauthorized,
                "Authentication required: \"Authorization: Bearer <webhook token>\" or ?token=<webhook token>");
  if (const auto* source = sources.by_webhook_token(*token)) return source;
  return fail(errc::unauthorized, "Unknown webhook token");
}

// ---- events -----------------------------------------------------------------------------------------------------

Expected<IngestResult> ingest_events(IngestRoute route, std::string_view body, const ometria::Transformer& transformer,
                                     const ometria::DestinationConfig& destination, const IngestLimits& limits,
                                     std::size_t readable_bytes) {
  BodyParser parser;
  auto root = parser.parse(body, readable_bytes);
  if (!root) return tl::unexpected(root.error());

  // The events to transform, and whether the body was one event (a single object) or a list.
  std::string typed_body;  // keeps a rewritten single event alive while it is parsed
  std::vector<dom::element> events;
  BatchLevel batch_level;  // /v1/batch only
  switch (route) {
    case IngestRoute::identify:
    case IngestRoute::track: {
      if (!root->is_object()) return tl::unexpected(wrong_shape(route, json::type_name(*root)));
      if (!member(*root, "type")) {
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
    case IngestRoute::batch: {
      if (!root->is_object()) return tl::unexpected(wrong_shape(route, json::type_name(*root)));
      const auto batch = member(*root, "batch");
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

  // Events that gain batch-level "context" / "integrations" are written out merged and parsed again, each in
  // turn, by a parser of their own (the body's document must stay valid).
  std::optional<simdjson::dom::parser> merge_parser;
  std::string merged;  // the current merged event's text, alive while it is transformed
  IngestResult result;
  result.events = events.size();
  result.accepted.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    dom::element event = events[i];
    if (!event.is_object()) {
      result.rejected.push_back({i, "Expected an event object, got " + std::string(json::type_name(event))});
      continue;
    }
    if (batch_level.any() && needs_merge(event, batch_level)) {
      if (!merge_parser) merge_parser.emplace();
      merged = merged_event(event, batch_level);
      if (merge_parser->parse(merged).get(event) != simdjson::SUCCESS) {
        result.rejected.push_back({i, "The event with the batch-level context merged in is not valid JSON"});
        continue;
      }
    }
    auto record = transformer.transform(event, destination);
    if (!record) {
      result.rejected.push_back({i, std::move(record.error().message)});
    } else {
      result.accepted.push_back({i, std::move(*record)});
    }
  }
  return result;
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

// ---- answers ----------------------------------------------------------------------------------------------------

Reply ingest_answer(const IngestResult& result) {
  Reply reply;
  reply.api_version_header = false;
  reply.status = status_of(result);
  reply.body = "{\"accepted\":" + std::to_string(result.accepted.size()) + ',';
  write_rejected(reply.body, result.rejected);
  reply.body += '}';
  return reply;
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
