// Internal: rudder-transformer's request object (contract section 4), the envelope around one push.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "json/out_value.hpp"
#include "omt/ometria/push_api.hpp"

namespace omt::protocol {

// {"version":"1","type":"REST","method":"POST","endpoint":...,"headers":{"X-Ometria-Auth":key},"params":{},
//  "body":{"JSON":{},"JSON_ARRAY":{"batch":"<batch>"},"XML":{},"FORM":{}},"files":{}[,"userId":""]}
// The batch is the JSON array of the push's records (ometria::push_body), as a string: `records` are written as
// string content already (ometria::RecordText::string_content), so they are only joined here.
inline void write_request_object(std::string& out, std::string_view api_key, std::span<const std::string_view> records,
                                 bool processor) {
  out += R"({"version":"1","type":"REST","method":"POST","endpoint":")";
  out += ometria::push_endpoint;
  out += R"(","headers":{"X-Ometria-Auth":)";
  json::write_string(out, api_key);
  out += R"(},"params":{},"body":{"JSON":{},"JSON_ARRAY":{"batch":)";
  json::write_string_of_array(out, records);
  out += R"(},"XML":{},"FORM":{}},"files":{})";
  if (processor) out += R"(,"userId":"")";
  out += '}';
}

}  // namespace omt::protocol
