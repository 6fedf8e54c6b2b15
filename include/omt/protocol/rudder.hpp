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

// readable_bytes: how many bytes from body.data() may be read. When it is at least body.size() + 64 (the
// server reserves that much), the JSON parser reads the body in place instead of copying it.

// POST /v0/destinations/ometria: a JSON array of {message, destination, metadata?}.
Reply processor_transform(std::string_view body, const ometria::Transformer& transformer, EventTally* tally = nullptr,
                          std::size_t readable_bytes = 0);
// POST /routerTransform: {"input":[...], "destType":"ometria"}.
Reply router_transform(std::string_view body, const ometria::Transformer& transformer, EventTally* tally = nullptr,
                       std::size_t readable_bytes = 0);

// GET /features.
std::string features_json();

}  // namespace omt::protocol
