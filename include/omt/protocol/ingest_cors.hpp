// CORS for the ingest routes, so that browser SDKs on a shop's own origin can send: which headers a preflight
// (OPTIONS) and an actual answer carry, from the sources' allowed_origins and the request's Origin. Pure.
// Unlike rudder-server (which echoes any Origin, with credentials) only listed origins are allowed, and never
// with credentials: the SDKs send the write key in Authorization, not in cookies (docs/ingest.md, "Browsers").
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omt/config/config.hpp"

namespace omt::protocol {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The request headers the browser SDKs send (RudderStack JS: Authorization, Content-Type, AnonymousId, SentAt,
// the Rsa-* retry headers; Segment analytics.js: Content-Type), answered in Access-Control-Allow-Headers.
inline constexpr std::string_view cors_allowed_headers =
    "Authorization, Content-Type, Content-Encoding, Accept, AnonymousId, SentAt, Rsa-Recovered, Rsa-Retry-Attempt, "
    "Rsa-Since-Last-Attempt, Rsa-Since-First-Attempt, Rsa-Retry-Reason";
inline constexpr std::string_view cors_allowed_methods = "POST, OPTIONS";
inline constexpr int cors_max_age_seconds = 900;  // as rudder-server; browsers may cap it (Chrome: 7200)

// True when `origin` is in the list (ASCII case-insensitive) or the list holds "*". An empty origin never is.
bool origin_allowed(const std::vector<std::string>& allowed_origins, std::string_view origin);

// What a CORS check decided: the headers to add (empty when there is nothing to say), and whether an Origin was
// refused (to be counted: the browser then blocks the answer).
struct CorsAnswer {
  HeaderList headers;
  bool refused = false;
};

// Every source's allowed origins together: what a preflight is judged against (computed once, at start-up).
std::vector<std::string> preflight_origins(std::span<const config::SourceConfig> sources);

// A preflight (OPTIONS) on an ingest route. It carries no credentials, so the origin is allowed when any source
// allows it (`any_source_origins`: preflight_origins). Allowed: Access-Control-Allow-Origin (the origin itself),
// -Methods, -Headers, -Max-Age, and Vary; no Allow-Credentials. No Origin: not a CORS request, nothing to add. An
// origin no source allows: refused.
CorsAnswer cors_preflight(const std::vector<std::string>& any_source_origins, std::string_view origin);

// An actual request from the authenticated source: Access-Control-Allow-Origin (and Vary: Origin) when that
// source allows the origin; refused when an Origin came that it does not allow; nothing without an Origin.
CorsAnswer cors_actual(const config::SourceConfig& source, std::string_view origin);

}  // namespace omt::protocol
