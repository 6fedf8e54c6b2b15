// What rudder-server's gateway (and its processor's time fields) would have added to an event that reaches the
// ingest routes directly: receivedAt, the corrected timestamp, a messageId, anonymousId from the AnonymousId
// header, request_ip and context.ip. Pure: the arrival time and the client's address are passed in; the same
// event and facts always give the same text. The rules, and where they differ from rudder-server's on purpose:
// docs/ingest.md, "What the service stamps on arrival"; rudder-server's own: docs/reference/rudder-server-gateway.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "omt/core/ip_address.hpp"

namespace omt::protocol {

// What the server knows of a request when its events arrive (net/ingest_routes fills it in).
struct Arrival {
  std::chrono::system_clock::time_point received_at;
  std::string client_ip;            // resolve_client_ip's answer; empty: unknown (request_ip, context.ip not stamped)
  std::string anonymous_id_header;  // the AnonymousId header as sent; empty: none
  std::string source;               // the source's name: a generated messageId differs from source to source
};

// The client's address: the peer itself, unless the peer is in `trusted_proxies`; then X-Forwarded-For (every
// such header's entries, joined with ",") is read from the right, each trusted hop skipped, and the first entry
// that is not trusted is the client (all trusted: the leftmost). An entry that is not an address ends the walk at
// the hop before it. An entry may carry a port ("203.0.113.9:5511", "[2001:db8::1]:80"). The answer is spelled as
// ip::to_string spells it (no brackets, no port); a peer that is not an address gives "".
std::string resolve_client_ip(std::string_view peer, std::string_view x_forwarded_for,
                              std::span<const ip::Network> trusted_proxies);

// The event (a JSON object) with the fields it lacks stamped, or nullopt when nothing changes (its members
// are then used as they are: the fast path for events rudder-server already stamped). The text keeps the
// event's members in their order, a changed value in the place of the old one, and adds the missing fields
// after them; it is meant to be parsed again (integers exactly as parsed). The rules:
//   * receivedAt: when absent, the arrival time.
//   * originalTimestamp, sentAt: when absent, the arrival time; a readable one is written again in the one
//     format (RFC 3339 with milliseconds, its own zone offset kept); an unreadable one is left as sent.
//   * timestamp: a readable one is kept (written again in the one format); otherwise (absent, unreadable, not a
//     string) receivedAt - (sentAt - originalTimestamp), each of the two taken as the arrival time when absent
//     or unreadable: so originalTimestamp when the client sent no sentAt, the arrival time when it sent neither.
//   * messageId: a string kept, white space trimmed; when absent, empty or not a string, a UUID (version 5)
//     of the source's name and the event's text: a request sent again gets the same ids.
//   * anonymousId: when absent, null or "", the AnonymousId header (trimmed), if one was sent.
//   * request_ip: when absent, the client's address; context.ip: when absent, null or "" (and "context" is an
//     object, null or absent), the event's own request_ip when it is a non-empty string, else the client's address.
std::optional<std::string> gateway_stamp(simdjson::dom::element event, const Arrival& arrival);

// ---- the time text, for the rules above and their tests ---------------------------------------------------------

// An instant as Go's time.Time holds one: years 0000 to 9999 (Go's zero time, 0001-01-01, is a real value).
struct GatewayTime {
  std::int64_t seconds = 0;  // since 1970-01-01T00:00:00Z
  std::uint32_t nanos = 0;   // 0..999,999,999
  int offset_minutes = 0;    // the zone offset it was written with (0: UTC), kept when written again
  friend bool operator==(const GatewayTime&, const GatewayTime&) = default;
};

// The strings rudder-server reads as times (a subset of dateparse.ParseAny): RFC 3339 and its relatives
// ("2024-05-01T10:00:00Z", "...T10:00:00.123456+05:30", "2024-05-01 10:00:00", no zone: UTC; "+0530", "+05";
// "2024-05-01"), and digits alone by their count: 10 Unix seconds, 13 milliseconds, 16 microseconds,
// 19 nanoseconds, 14 yyyyMMddhhmmss, 8 yyyymmdd, 4 yyyy. nullopt for anything else.
std::optional<GatewayTime> parse_gateway_time(std::string_view text);
// RFC 3339 with milliseconds, Go's "2006-01-02T15:04:05.000Z07:00": truncated to the millisecond, "Z" for
// offset 0, else "+05:30".
std::string format_gateway_time(const GatewayTime& time);

}  // namespace omt::protocol
