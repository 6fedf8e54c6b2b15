#include "omt/import/input_format.hpp"

#include <simdjson.h>

#include <string>

#include "json/member.hpp"

namespace omt::import {

std::string_view to_string(InputFormat format) {
  switch (format) {
    case InputFormat::events: return "events";
    case InputFormat::records: return "records";
    case InputFormat::csv: return "csv";
  }
  return "";
}

std::optional<InputFormat> input_format_from(std::string_view name) {
  for (auto format : {InputFormat::events, InputFormat::records, InputFormat::csv})
    if (name == to_string(format)) return format;
  return std::nullopt;
}

namespace {
bool ends_with(std::string_view text, std::string_view tail) {
  return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}
}  // namespace

Expected<InputFormat> detect_format(std::string_view file_name, std::string_view first_line) {
  std::string_view name = file_name;
  if (ends_with(name, ".gz")) name.remove_suffix(3);
  if (ends_with(name, ".csv") || ends_with(name, ".CSV")) return InputFormat::csv;
  const auto cannot = [&](std::string why) {
    return fail(errc::invalid_request, std::string(file_name) + ": cannot tell the format (" + why +
                                           "): pass --format events|records|csv");
  };
  if (first_line.empty()) return cannot("no line to look at");
  simdjson::dom::parser parser;
  simdjson::dom::element first;
  if (parser.parse(first_line.data(), first_line.size()).get(first) != simdjson::SUCCESS || !first.is_object())
    return cannot("its first line is not a JSON object");
  const bool record = json::member(first, "@type").has_value();
  bool event = false;
  for (std::string_view key : {"type", "event", "userId", "anonymousId"})
    if (json::member(first, key)) event = true;
  if (record && !event) return InputFormat::records;
  if (event && !record) return InputFormat::events;
  if (record && event) return cannot("its first line has both \"@type\" and event fields");
  return cannot("its first line has neither \"@type\" nor \"type\", \"event\", \"userId\", \"anonymousId\"");
}

}  // namespace omt::import
