#include "omt/error.hpp"

namespace omt {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::instrumentation: return "instrumentation";
    case errc::configuration: return "configuration";
    case errc::transformation: return "transformation";
    case errc::invalid_json: return "invalid_json";
    case errc::invalid_request: return "invalid_request";
    case errc::too_large: return "too_large";
    case errc::not_found: return "not_found";
    case errc::unauthorized: return "unauthorized";
    case errc::unavailable: return "unavailable";
    case errc::io: return "io";
    case errc::invalid_config: return "invalid_config";
    case errc::unsupported_media: return "unsupported_media";
  }
  return "unknown";
}

}  // namespace omt
