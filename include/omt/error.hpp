// The one error vocabulary of ometria-transformer.
// Bad input is a value, never an exception: functions return Expected<T>, whose error names what failed
// (code), the exact user-facing message (for contract errors: rudder-transformer's words, verbatim) and where
// (a dotted path into the event, or a mapping file position).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace omt {

enum class errc {
  instrumentation = 1,  // the event is wrong; HTTP 400, statTags errorType "instrumentation"
  configuration,        // the destination config is wrong (only "Invalid Api Key"); 400, errorType "configuration"
  transformation,       // an internal failure while transforming; 500, errorCategory "transformation"
  invalid_json,         // a body that is not JSON; 400
  invalid_request,      // JSON of the wrong shape; 400
  too_large,            // an input over its limit; 413
  not_found,            // unknown route or destination; 404
  unauthorized,         // missing or unknown credential; 401
  unavailable,          // backpressure (queue over its high-water mark); 429
  io,                   // file, database or network failure
  invalid_config,       // start-up: bad config or mapping file
  unsupported_media,    // a body in an encoding (Content-Encoding) the service cannot decode; 415
};

struct Error {
  errc code = errc::transformation;
  std::string message;  // complete, user-facing; for contract errors exactly the contract's string
  std::string path;     // where: "properties.currency", "mappings/order.json#3", "" if not applicable
};

template <class T>
using Expected = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(errc code, std::string message, std::string path = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(path)});
}

// HTTP status that a request-level error of this code answers with.
constexpr int http_status(errc code) {
  switch (code) {
    case errc::instrumentation:
    case errc::configuration:
    case errc::invalid_json:
    case errc::invalid_request: return 400;
    case errc::too_large: return 413;
    case errc::not_found: return 404;
    case errc::unauthorized: return 401;
    case errc::unavailable: return 429;
    case errc::unsupported_media: return 415;
    case errc::transformation:
    case errc::io:
    case errc::invalid_config: return 500;
  }
  return 500;
}

std::string_view to_string(errc code);

}  // namespace omt
