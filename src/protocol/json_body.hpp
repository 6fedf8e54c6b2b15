// Internal: parsing request bodies on the hot path with simdjson, and the 400 reply for a body that is not
// JSON, naming the byte offset of the first error (found by a second, validating pass only on failure).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "omt/error.hpp"

namespace omt::protocol {

// Holds the parser whose document the returned element points into. One per thread, reused; bodies over
// 4 MiB get a parser of their own, freed afterwards, so a single huge request does not pin memory per thread.
class BodyParser {
 public:
  // readable_bytes >= body.size() + SIMDJSON_PADDING: parsed in place, without a copy.
  Expected<simdjson::dom::element> parse(std::string_view body, std::size_t readable_bytes = 0);

 private:
  std::unique_ptr<simdjson::dom::parser> large_;
};

// The message for invalid JSON: "Invalid JSON at byte N: <what>".
std::string describe_json_error(std::string_view body, simdjson::error_code code);

}  // namespace omt::protocol
