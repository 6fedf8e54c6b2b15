#include "protocol/json_body.hpp"

#include <nlohmann/json.hpp>

namespace omt::protocol {
namespace {

constexpr std::size_t large_body_bytes = 4 * 1024 * 1024;

// A SAX consumer that accepts everything: the parser itself finds the first syntax or UTF-8 error.
struct AcceptAll {
  std::size_t error_position = std::string::npos;
  std::string error_message;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(std::int64_t) { return true; }
  bool number_unsigned(std::uint64_t) { return true; }
  bool number_float(double, const std::string&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(std::vector<std::uint8_t>&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(std::string&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    error_position = position;
    error_message = ex.what();
    return false;
  }
};

}  // namespace

std::string describe_json_error(std::string_view body, simdjson::error_code code) {
  if (code == simdjson::DEPTH_ERROR) return "Invalid JSON: nested deeper than 1024 levels";
  if (code == simdjson::CAPACITY) return "Invalid JSON: document too large";
  if (body.empty()) return "Invalid JSON at byte 0: empty body";
  AcceptAll sax;
  nlohmann::json::sax_parse(body.begin(), body.end(), &sax, nlohmann::json::input_format_t::json, true, false);
  if (sax.error_position == std::string::npos)
    return std::string("Invalid JSON: ") + simdjson::error_message(code);
  // nlohmann: "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ... ; last read: '...'"
  std::string what = sax.error_message;
  if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  if (auto last = what.find("; last read"); last != std::string::npos) what = what.substr(0, last);
  // nlohmann counts the byte it stopped at from 1.
  const std::size_t offset = sax.error_position > 0 ? sax.error_position - 1 : 0;
  return "Invalid JSON at byte " + std::to_string(offset) + ": " + what;
}

Expected<simdjson::dom::element> BodyParser::parse(std::string_view body, std::size_t readable_bytes) {
  static thread_local simdjson::dom::parser small;
  simdjson::dom::parser* parser = &small;
  if (body.size() > large_body_bytes) {
    large_ = std::make_unique<simdjson::dom::parser>();
    parser = large_.get();
  }
  simdjson::dom::element root;
  const bool padded = readable_bytes >= body.size() + simdjson::SIMDJSON_PADDING;
  const auto code = parser->parse(body.data(), body.size(), /*realloc_if_needed=*/!padded).get(root);
  if (code != simdjson::SUCCESS) return fail(errc::invalid_json, describe_json_error(body, code));
  return root;
}

}  // namespace omt::protocol
