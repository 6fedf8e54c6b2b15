// rudder-transformer's HTTP contract for the Ometria destination, without HTTP types: a request body in,
// a status and a JSON body out. The server (net/) and the CLI call these; they never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"

namespace omt::ometria {
class Transformer;
enum class RecordType : std::uint8_t;  // omt/ometria/transformer.hpp
}

namespace omt::protocol {

// What a request did to each of its events, for /metrics (net/routes emits them as obs/transform_events).
struct EventOutcome {
  std::optional<ometria::RecordType> type;  // what the event became or would have become; nullopt: not told
  std::optional<errc> error;                // why it was rejected; nullopt: it was transformed
};
struct EventTally {
  std::vector<EventOutcome> events;  // in request order
};

struct Reply {
  int status = 200;
  std::string body;              // JSON
  bool api_version_header = true;  // send "apiVersion: 2" (every transform and proxy reply)
};

// {"error": message} with the status (and the apiVersion header; clear it for routes that are not the contract's).
Reply error_reply(int status, std::string_view message);

// "ometria", "OMETRIA", " Ometria " -> true (trimmed, case-insensitive).
bool is_known_destination(std::string_view name);
// 404 {"error":"Unknown destination: <name>"}
Reply unknown_destination(std::string_view name);

// How a transform body is laid out, chosen by rudder-server's X-Content-Format request header.
enum class BodyForm : std::uint8_t {
  expanded,      // every input carries its own destination (and connection)
  compacted_v1,  // {"input":[{message, metadata}], "destinations":{ID:...}, "connections":{...}}: each input's
                 // destination is destinations[metadata.destinationId]; the answer is the expanded form's, byte
                 // for byte. Advertised in /features as supportDestTransformCompactedPayloadV1.
};
inline constexpr std::string_view content_format_header = "X-Content-Format";
inline constexpr std::string_view compacted_v1_content_format = "json+compactedv1";
// The header's value -> the form: exactly "json+compactedv1" is compacted_v1, anything else (or none) expanded,
// as rudder-transformer decides.
BodyForm body_form_of(std::string_view content_format);

// readable_bytes: how many bytes from body.data() may be read. When it is at least body.size() + 64 (the
// server reserves that much), the JSON parser reads the body in place instead of copying it.

// POST /v0/destinations/ometria: a JSON array of {message, destination, metadata?}, or compacted
// {"input":[{message, metadata}], "destinations":{...}, "connections":{...}}.
Reply processor_transform(std::string_view body, const ometria::Transformer& transformer, EventTally* tally = nullptr,
                          std::size_t readable_bytes = 0, BodyForm form = BodyForm::expanded);
// POST /routerTransform: {"input":[...], "destType":"ometria"}, or compacted: the same plus "destinations" and
// "connections", the inputs without their destination and connection.
Reply router_transform(std::string_view body, const ometria::Transformer& transformer, EventTally* tally = nullptr,
                       std::size_t readable_bytes = 0, BodyForm form = BodyForm::expanded);
// A compacted body whose references are broken (no `destinations` object, an input without a string
// metadata.destinationId, or one naming an id `destinations` does not have) is refused whole with a 400 naming
// the input's index and the id, before any event is transformed.

// GET /features.
std::string features_json();

}  // namespace omt::protocol
