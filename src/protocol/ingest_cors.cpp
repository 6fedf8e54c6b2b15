// CORS decisions for the ingest routes: allow-lists against the request's Origin.
#include "omt/protocol/ingest_cors.hpp"

#include <algorithm>

#include "omt/core/text.hpp"

namespace omt::protocol {

bool origin_allowed(const std::vector<std::string>& allowed_origins, std::string_view origin) {
  if (origin.empty()) return false;
  return std::any_of(allowed_origins.begin(), allowed_origins.end(),
                     [origin](const std::string& allowed) { return allowed == "*" || text::iequals(allowed, origin); });
}

std::vector<std::string> preflight_origins(std::span<const config::SourceConfig> sources) {
  std::vector<std::string> origins;
  for (const auto& source : sources) origins.insert(origins.end(), source.allowed_origins.begin(), source.allowed_origins.end());
  return origins;
}

CorsAnswer cors_preflight(const std::vector<std::string>& any_source_origins, std::string_view origin) {
  CorsAnswer answer;
  if (origin.empty()) return answer;
  // The answer depends on these request headers: a cache must not serve it for another origin.
  answer.headers.emplace_back("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  if (!origin_allowed(any_source_origins, origin)) {
    answer.refused = true;
    return answer;
  }
  // The origin itself, also for "*": the same answer works whether or not the browser sends credentials.
  answer.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  answer.headers.emplace_back("Access-Control-Allow-Methods", std::string(cors_allowed_methods));
  answer.headers.emplace_back("Access-Control-Allow-Headers", std::string(cors_allowed_headers));
  answer.headers.emplace_back("Access-Control-Max-Age", std::to_string(cors_max_age_seconds));
  return answer;
}

CorsAnswer cors_actual(const config::SourceConfig& source, std::string_view origin) {
  CorsAnswer answer;
  if (origin.empty()) return answer;
  answer.headers.emplace_back("Vary", "Origin");
  if (!origin_allowed(source.allowed_origins, origin)) {
    answer.refused = true;
    return answer;
  }
  answer.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  return answer;
}

}  // namespace omt::protocol
