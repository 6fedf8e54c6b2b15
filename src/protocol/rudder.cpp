// rudder-transformer's processor and router contract for the Ometria destination (contract sections 1-5).
#include "omt/protocol/rudder.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "omt/core/text.hpp"
#include "omt/ometria/transformer.hpp"
#include "protocol/json_body.hpp"
#include "protocol/request_object.hpp"
#include "omt/ometria/push_api.hpp"

namespace omt::protocol {
namespace dom = simdjson::dom;
using json::write;
using json::write_string;

Reply error_reply(int status, std::string_view message) {
  Reply r;
  r.status = status;
  r.body = "{\"error\":";
  write_string(r.body, message);
  r.body += '}';
  return r;
}

namespace {

std::string lower_trim(std::string_view s) {
  std::string out(text::trim(s));
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void tally_event(EventTally* tally, const ometria::Transformer& transformer, dom::element message,
                 const Expected<ometria::Record>& result) {
  if (!tally) return;
  EventOutcome outcome;
  if (result) {
    outcome.type = result->type;
  } else {
    if (message.is_object()) outcome.type = transformer.record_type_of(message);
    outcome.error = result.error().code;
  }
  tally->events.push_back(outcome);
}

// statTags of an error (contract section 5).
void write_stat_tags(std::string& out, errc code, std::string_view feature, std::optional<dom::element> metadata) {
  if (code == errc::transformation && feature == "processor") {
    out += R"({"errorCategory":"transformation"})";
    return;
  }
  if (code == errc::transformation) out += R"({"errorCategory":"transformation")";
  else if (code == errc::configuration) out += R"({"errorCategory":"dataValidation","errorType":"configuration")";
  else out += R"({"errorCategory":"dataValidation","errorType":"instrumentation")";
  out += R"(,"destType":"OMETRIA","module":"destination","implementation":"native","feature":)";
  write_string(out, feature);
  if (metadata) {
    if (auto id = json::member(*metadata, "destinationId")) {
      out += R"(,"destinationId":)";
      write(out, *id);
    }
    if (auto id = json::member(*metadata, "workspaceId")) {
      out += R"(,"workspaceId":)";
      write(out, *id);
    }
  }
  out += '}';
}

int status_of(errc code) { return code == errc::transformation ? 500 : 400; }

ometria::DestinationConfig config_of(std::optional<dom::element> destination) {
  if (!destination) return {};
  auto config = json::member(*destination, "Config");
  if (!config) return {};
  return ometria::destination_config_from(*config);
}

// Stable stringify (sorted keys), for the router's grouping key.
void write_sorted(std::string& out, dom::element e) {
  if (e.is_object()) {
    std::vector<std::pair<std::string_view, dom::element>> members;
    for (auto field : json::as_object(e)) members.emplace_back(field.key, field.value);
    std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i) out += ',';
      write_string(out, members[i].first);
      out += ':';
      write_sorted(out, members[i].second);
    }
    out += '}';
  } else if (e.is_array()) {
    out += '[';
    bool first = true;
    for (auto item : json::as_array(e)) {
      if (!first) out += ',';
      first = false;
      write_sorted(out, item);
    }
    out += ']';
  } else {
    write(out, e);
  }
}

// The router's grouping key of a destination: its ID and Config (contract section 3).
std::string group_key_of(std::optional<dom::element> destination) {
  std::string key;
  if (destination) {
    if (auto id = json::member(*destination, "ID")) write(key, *id);
    key += '|';
    const auto dynamic = json::member(*destination, "hasDynamicConfig");
    const bool static_config = dynamic && dynamic->is_bool() && !bool(dynamic->get_bool().value_unsafe());
    if (!static_config)
      if (auto config = json::member(*destination, "Config")) write_sorted(key, *config);
  }
  return key;
}

// What one body's events need of their destinations, worked out again only when an event's destination is not the
// same JSON as the last event's: a body usually names one destination, which is then parsed (and, for the router,
// stringified into its grouping key) once per body rather than once per event.
class DestinationMemo {
 public:
  // The next event's destination; config() and group_key() are then its own. same_as_last: known to be the same
  // destination as the last event's (a compacted body names it by the same id), without comparing its JSON.
  void next(std::optional<dom::element> destination, bool same_as_last = false) {
    if (seen_ && (same_as_last || (destination ? last_ && json::same_json(*last_, *destination) : !last_))) return;
    seen_ = true;
    last_ = destination;
    config_ = config_of(destination);
    key_.reset();
  }
  const ometria::DestinationConfig& config() const { return config_; }
  const std::string& group_key() {
    if (!key_) key_ = group_key_of(last_);
    return *key_;
  }

 private:
  bool seen_ = false;
  std::optional<dom::element> last_;
  ometria::DestinationConfig config_;
  std::optional<std::string> key_;
};

}  // namespace

bool is_known_destination(std::string_view name) { return lower_trim(name) == "ometria"; }

Reply unknown_destination(std::string_view name) {
  Reply r = error_reply(404, "Unknown destination: " + std::string(name));
  r.api_version_header = false;
  return r;
}

BodyForm body_form_of(std::string_view content_format) {
  return content_format == compacted_v1_content_format ? BodyForm::compacted_v1 : BodyForm::expanded;
}

// ---- each input's destination, in either body form -------------------------------------------------------------

namespace {

// Expanded: the input's own "destination". Compacted: destinations[metadata.destinationId], looked up once per
// input (through an index of `destinations`, so a body with many destinations is not a scan per input) and kept
// as a pointer into the parsed body: no expanded body is built.
class Destinations {
 public:
  static Destinations expanded() { return {}; }
  // Every reference checked before any event is transformed: a broken one refuses the whole body.
  static Expected<Destinations> compacted(dom::element root, dom::array input);

  std::optional<dom::element> of(dom::element event, std::size_t index) const {
    if (!compacted_) return json::member(event, "destination");
    return resolved_[index].destination;
  }
  // Whether input[index] names the same destination as input[index - 1] (known only in a compacted body).
  bool same_as_previous(std::size_t index) const {
    return compacted_ && index > 0 && resolved_[index].id == resolved_[index - 1].id;
  }

 private:
  struct Resolved {
    std::string_view id;  // metadata.destinationId
    dom::element destination;
  };
  bool compacted_ = false;
  std::vector<Resolved> resolved_;  // compacted: by input index
};

Expected<Destinations> Destinations::compacted(dom::element root, dom::array input) {
  auto refuse = [](std::string message) { return fail(errc::instrumentation, std::move(message)); };
  const auto destinations = json::member(root, "destinations");
  if (!destinations)
    return refuse(R"(destinations is required in a compacted body (X-Content-Format: json+compactedv1): )"
                  R"({"<metadata.destinationId>":{destination}, ...})");
  if (!destinations->is_object())
    return refuse("destinations must be an object, got " + std::string(json::type_name(*destinations)));
  // Not read (the Ometria transform needs no connection), but a body must have the shape it claims.
  if (const auto connections = json::member(root, "connections"); connections && !connections->is_object())
    return refuse("connections must be an object, got " + std::string(json::type_name(*connections)));

  const json::MemberIndex index(json::as_object(*destinations));
  Destinations out;
  out.compacted_ = true;
  out.resolved_.reserve(input.size());
  std::size_t i = 0;
  for (dom::element event : input) {
    auto at = [&] { return "input[" + std::to_string(i) + "]"; };
    if (!event.is_object())
      return refuse(at() + " must be an object {message, metadata}, got " + std::string(json::type_name(event)));
    const auto metadata = json::member(event, "metadata");
    if (!metadata) return refuse(at() + ".metadata is required: its destinationId names the input's destination");
    if (!metadata->is_object())
      return refuse(at() + ".metadata must be an object, got " + std::string(json::type_name(*metadata)));
    const auto id = json::member(*metadata, "destinationId");
    if (!id) return refuse(at() + ".metadata.destinationId is required: it names the input's destination");
    if (!id->is_string())
      return refuse(at() + ".metadata.destinationId must be a string, got " + std::string(json::type_name(*id)));
    const auto destination = index.find(id->get_string().value_unsafe());
    if (!destination) {
      std::string message = at() + ".metadata.destinationId ";
      write_string(message, id->get_string().value_unsafe());
      return refuse(std::move(message) + " is not a key of destinations");
    }
    out.resolved_.push_back({id->get_string().value_unsafe(), *destination});
    ++i;
  }
  return out;
}

}  // namespace

std::string features_json() {
  return R"({"routerTransform":{"OMETRIA":true},"regulations":[],"supportSourceTransformV1":true,)"
         R"("upgradedToSourceTransformV2":true,"supportDestTransformCompactedPayloadV1":true,)"
         R"("supportTransformerProxyV1":true})";
}

// ---- processor ------------------------------------------------------------------------------------------------

Reply processor_transform(std::string_view body, const ometria::Transformer& transformer, EventTally* tally,
                          std::size_t readable_bytes, BodyForm form) {
  BodyParser parser;
  auto root = parser.parse(body, readable_bytes);
  if (!root) return error_reply(400, root.error().message);
  dom::array events;
  Destinations destinations = Destinations::expanded();
  if (form == BodyForm::compacted_v1) {
    if (!root->is_object())
      return error_reply(400, std::string(R"(Expected a JSON object {"input":[...],"destinations":{...},"connections":{...}})"
                                          R"( (X-Content-Format: json+compactedv1), got )") +
                                  std::string(json::type_name(*root)));
    const auto input = json::member(*root, "input");
    if (!input || !input->is_array() || json::as_array(*input).size() == 0)
      return error_reply(400, "input must be a non-empty array of {message, metadata} objects");
    events = json::as_array(*input);
    auto resolved = Destinations::compacted(*root, events);
    if (!resolved) return error_reply(400, resolved.error().message);
    destinations = std::move(*resolved);
  } else {
    if (!root->is_array())
      return error_reply(400, std::string("Expected a JSON array of {message, destination, metadata} objects, got ") +
                                  std::string(json::type_name(*root)));
    events = json::as_array(*root);
    if (events.size() == 0)
      return error_reply(400, "Expected a non-empty JSON array of {message, destination, metadata} objects");
  }

  Reply reply;
  reply.body.reserve(body.size() + 256 * events.size());
  std::string& out = reply.body;
  out += '[';
  std::size_t index = 0;
  DestinationMemo memo;
  for (dom::element event : events) {
    if (index) out += ',';
    const bool same_destination = destinations.same_as_previous(index);
    const auto destination = destinations.of(event, index++);
    const auto metadata = json::member(event, "metadata");
    Expected<ometria::Record> result = fail(errc::instrumentation, "Expected an object {message, destination, metadata}");
    std::optional<dom::element> message;
    memo.next(destination, same_destination);
    const ometria::DestinationConfig& config = memo.config();
    if (event.is_object()) {
      message = json::member(event, "message");
      if (!message) result = fail(errc::instrumentation, "message is required", "message");
      else result = transformer.transform(*message, config, ometria::RecordText::string_content);
    }
    if (message) tally_event(tally, transformer, *message, result);
    else if (tally) tally->events.push_back({std::nullopt, errc::instrumentation});

    out += '{';
    if (result) {
      out += "\"output\":";
      const std::string_view record = result->json;
      write_request_object(out, config.api_key, std::span(&record, 1), /*processor=*/true);
      if (metadata) {
        out += ",\"metadata\":";
        write(out, *metadata);
      }
      out += ",\"statusCode\":200}";
    } else {
      if (metadata) {
        out += "\"metadata\":";
        write(out, *metadata);
        out += ',';
      }
      out += "\"statusCode\":" + std::to_string(status_of(result.error().code)) + ",\"error\":";
      write_string(out, result.error().message);
      out += ",\"statTags\":";
      write_stat_tags(out, result.error().code, "processor", metadata);
      out += '}';
    }
  }
  out += ']';
  return reply;
}

// ---- router ---------------------------------------------------------------------------------------------------

namespace {

struct Success {
  std::string api_key;
  ometria::RecordType type;
  std::string record;
  std::optional<dom::element> metadata;
  std::optional<dom::element> destination;
};

struct Group {
  std::string key;
  std::optional<dom::element> first_metadata;
  std::string errors;  // serialised error entries, comma-separated
  std::vector<Success> successes;
};

}  // namespace

Reply router_transform(std::string_view body, const ometria::Transformer& transformer, EventTally* tally,
                       std::size_t readable_bytes, BodyForm form) {
  BodyParser parser;
  auto root = parser.parse(body, readable_bytes);
  if (!root) return error_reply(400, root.error().message);
  if (!root->is_object())
    return error_reply(400, std::string("Expected a JSON object {\"input\":[...],\"destType\":\"ometria\"}, got ") +
                                std::string(json::type_name(*root)));
  const auto dest_type = json::member(*root, "destType");
  if (!dest_type || !dest_type->is_string())
    return error_reply(400, "destType is required: {\"input\":[...],\"destType\":\"ometria\"}");
  const std::string_view dest_name = dest_type->get_string().value_unsafe();
  if (!is_known_destination(dest_name)) return unknown_destination(dest_name);

  Reply reply;
  const auto input = json::member(*root, "input");
  if (!input || !input->is_array() || json::as_array(*input).size() == 0) {
    reply.body = R"({"output":[{"metadata":[{"destType":)";
    write_string(reply.body, lower_trim(dest_name));
    reply.body += R"(}],"batched":false,"statusCode":400,"error":"Invalid event array"}]})";
    return reply;
  }
  Destinations destinations = Destinations::expanded();
  if (form == BodyForm::compacted_v1) {
    auto resolved = Destinations::compacted(*root, json::as_array(*input));
    if (!resolved) return error_reply(400, resolved.error().message);
    destinations = std::move(*resolved);
  }

  // Group by destination ID and Config (contract section 3), in order of first appearance.
  std::vector<Group> groups;
  std::size_t index = 0;
  DestinationMemo memo;
  for (dom::element event : json::as_array(*input)) {
    const bool same_destination = destinations.same_as_previous(index);
    const auto destination = destinations.of(event, index++);
    const auto metadata = json::member(event, "metadata");
    memo.next(destination, same_destination);
    const std::string& key = memo.group_key();
    auto group = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.key == key; });
    if (group == groups.end()) {
      groups.push_back(Group{key, metadata, {}, {}});
      group = groups.end() - 1;
    }

    std::optional<dom::element> message = json::member(event, "message");
    Expected<ometria::Record> result = fail(errc::instrumentation, "message is required", "message");
    const ometria::DestinationConfig& config = memo.config();
    if (!event.is_object()) result = fail(errc::instrumentation, "Expected an object {message, destination, metadata}");
    else if (message) result = transformer.transform(*message, config, ometria::RecordText::string_content);
    if (message) tally_event(tally, transformer, *message, result);
    else if (tally) tally->events.push_back({std::nullopt, errc::instrumentation});

    if (result) {
      group->successes.push_back(Success{config.api_key, result->type, std::move(result->json), metadata, destination});
      continue;
    }
    std::string& out = group->errors;
    if (!out.empty()) out += ',';
    out += "{\"metadata\":[";
    if (metadata) write(out, *metadata);
    else out += "null";
    out += "],\"batched\":false,\"statusCode\":" + std::to_string(status_of(result.error().code)) + ",\"error\":";
    write_string(out, result.error().message);
    out += ",\"statTags\":";
    write_stat_tags(out, result.error().code, "router", group->first_metadata);
    if (destination) {
      out += ",\"destination\":";
      write(out, *destination);
    }
    out += '}';
  }

  // Per group: its error entries first, then its pushes (ometria::group_into_pushes: by apiKey and @type, 100 each).
  std::string& out = reply.body;
  out.reserve(body.size() + 1024);
  out += "{\"output\":[";
  bool first_entry = true;
  auto separate = [&] {
    if (!first_entry) out += ',';
    first_entry = false;
  };
  for (auto& group : groups) {
    if (!group.errors.empty()) {
      separate();
      out += group.errors;
    }
    std::vector<ometria::PushKey> keys;
    keys.reserve(group.successes.size());
    for (const auto& success : group.successes) keys.push_back({success.api_key, success.type});
    std::vector<std::string_view> records;
    for (const auto& push : ometria::group_into_pushes(keys)) {
      const Success& head = group.successes[push.front()];
      records.clear();
      for (const std::size_t k : push) records.push_back(group.successes[k].record);
      separate();
      out += "{\"batchedRequest\":";
      write_request_object(out, head.api_key, records, /*processor=*/false);
      out += ",\"metadata\":[";
      for (std::size_t k = 0; k < push.size(); ++k) {
        if (k) out += ',';
        const auto& m = group.successes[push[k]].metadata;
        if (m) write(out, *m);
        else out += "null";
      }
      out += "],\"batched\":true,\"statusCode\":200";
      if (head.destination) {
        out += ",\"destination\":";
        write(out, *head.destination);
      }
      out += '}';
    }
  }
  out += "]}";
  return reply;
}

}  // namespace omt::protocol
