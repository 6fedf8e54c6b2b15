#include "omt/ometria/push_api.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>
#include <simdjson.h>

namespace omt::ometria {

Expected<void> check_record_size(std::size_t bytes, errc code) {
  if (bytes <= max_record_bytes) return {};
  return fail(code, "Record is larger than Ometria's 60 KB limit (" + std::to_string(bytes) + " bytes)");
}

std::string push_body(std::span<const std::string_view> records) {
  std::size_t size = 2 + records.size();
  for (const auto record : records) size += record.size();
  std::string body;
  body.reserve(size);
  body.push_back('[');
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i != 0) body.push_back(',');
    body.append(records[i]);
  }
  body.push_back(']');
  return body;
}

namespace {

// nlohmann parses recursively; refuse deep nesting before handing it a body an attacker (or a broken proxy)
// could shape. Ometria's answer is one flat object.
bool nesting_within(std::string_view body, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::optional<std::int64_t> count_field(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    if (n <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(n);
    return std::nullopt;
  }
  if (value.is_number_integer()) {
    const auto n = value.get<std::int64_t>();
    if (n >= 0) return n;
  }
  return std::nullopt;
}

}  // namespace

std::optional<PushReceipt> parse_push_answer(std::string_view body) noexcept {
  constexpr std::size_t max_body = 64 * 1024;
  if (body.size() > max_body || !nesting_within(body, 16)) return std::nullopt;
  try {
    const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return std::nullopt;
    PushReceipt receipt;
    if (auto it = parsed.find("status"); it != parsed.end() && it->is_string()) receipt.status = it->get<std::string>();
    if (auto it = parsed.find("request_id"); it != parsed.end()) {
      if (it->is_string()) receipt.request_id = it->get<std::string>();
      else if (it->is_number_integer()) receipt.request_id = it->dump();
    }
    if (auto it = parsed.find("accepted"); it != parsed.end()) receipt.accepted = count_field(*it);
    if (auto it = parsed.find("rejected"); it != parsed.end()) receipt.rejected = count_field(*it);
    return receipt;
  } catch (...) {
    // Only allocation failure can get here; a push's bookkeeping must not take the sender down with it.
    return std::nullopt;
  }
}

std::vector<std::vector<std::size_t>> group_into_pushes(std::span<const PushKey> records, std::size_t per_push) {
  per_push = std::max<std::size_t>(per_push, 1);
  // Every (key, type) in order of first appearance, then each cut into pushes.
  std::map<std::pair<std::string_view, RecordType>, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto [it, added] = group_of.try_emplace({records[i].api_key, records[i].type}, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<std::vector<std::size_t>> pushes;
  for (const auto& group : groups) {
    for (std::size_t start = 0; start < group.size(); start += per_push) {
      const auto end = group.begin() + static_cast<std::ptrdiff_t>(std::min(group.size(), start + per_push));
      pushes.emplace_back(group.begin() + static_cast<std::ptrdiff_t>(start), end);
    }
  }
  return pushes;
}

// ---- GET /v2/push/_errors ----

std::string errors_endpoint_for(std::string_view endpoint) {
  const auto query = endpoint.find('?');
  std::string_view path = endpoint.substr(0, query);
  const std::string_view rest = query == std::string_view::npos ? std::string_view() : endpoint.substr(query);
  while (path.ends_with('/')) path.remove_suffix(1);
  return std::string(path) + "/_errors" + std::string(rest);
}

namespace {

// At most max_error_text_bytes, never cutting a UTF-8 sequence in two.
std::string bounded_text(std::string text) {
  if (text.size() <= max_error_text_bytes) return text;
  std::size_t cut = max_error_text_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

// A text field, or an integer given as its digits (ids); anything else is absent.
std::optional<std::string> text_field(const nlohmann::json& entry, const char* name) {
  const auto it = entry.find(name);
  if (it == entry.end()) return std::nullopt;
  if (it->is_string()) return bounded_text(it->get<std::string>());
  if (it->is_number_integer()) return it->dump();
  return std::nullopt;
}

}  // namespace

Expected<OmetriaErrorList> parse_errors_answer(std::string_view body) {
  if (body.size() > max_errors_answer_bytes) {
    return fail(errc::too_large, "Ometria's errors answer is over " + std::to_string(max_errors_answer_bytes) + " bytes");
  }
  if (!nesting_within(body, 16)) return fail(errc::invalid_json, "Ometria's errors answer is nested too deeply");
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return fail(errc::invalid_json, "Ometria's errors answer is not JSON");
  const nlohmann::json* list = &parsed;
  if (parsed.is_object()) {
    // Not the documented shape; an object wrapping the list is read too, rather than losing what it says.
    list = nullptr;
    for (const char* member : {"errors", "data"}) {
      if (auto it = parsed.find(member); it != parsed.end() && it->is_array()) {
        list = &*it;
        break;
      }
    }
  }
  if (list == nullptr || !list->is_array()) {
    return fail(errc::invalid_json, "Ometria's errors answer is not a JSON array of errors");
  }
  OmetriaErrorList out;
  for (const auto& entry : *list) {
    if (!entry.is_object() || out.errors.size() >= max_errors_per_answer) {
      ++out.ignored;
      continue;
    }
    OmetriaError error;
    error.message = text_field(entry, "error_message").value_or("");
    error.path = text_field(entry, "error_path").value_or("");
    error.record_id = text_field(entry, "record_id");
    error.request_id = text_field(entry, "request_id");
    error.record_type = text_field(entry, "record_type");
    error.time_stamp = text_field(entry, "time_stamp");
    if (error.message.empty() && error.path.empty() && !error.record_id && !error.request_id) {
      ++out.ignored;  // says nothing anyone could act on
      continue;
    }
    out.errors.push_back(std::move(error));
  }
  return out;
}

std::string error_digest(const OmetriaError& error) {
  // FNV-1a 64 over every field, each with a tag and its length, so that no two different entries run together.
  std::uint64_t hash = 0xcbf29ce484222325ull;
  const auto mix = [&hash](char tag, const std::optional<std::string>& value) {
    const std::string text = value ? std::to_string(value->size()) + ":" + *value : "-";
    for (const char c : std::string(1, tag) + text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ull;
    }
  };
  mix('m', error.message);
  mix('p', error.path);
  mix('r', error.record_id);
  mix('q', error.request_id);
  mix('t', error.record_type);
  mix('s', error.time_stamp);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digest(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) digest[static_cast<std::size_t>(i)] = kHex[hash & 15];
  return digest;
}

std::optional<std::string> record_id_of(std::string_view record_json) {
  // simdjson, not nlohmann: this runs for every record of every delivered push while the errors poll is on.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object record;
  if (parser.parse(record_json.data(), record_json.size()).get_object().get(record) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  simdjson::dom::element id;
  if (record["id"].get(id) != simdjson::SUCCESS) return std::nullopt;
  if (id.is_string()) return std::string(id.get_string().value_unsafe());
  if (id.is_int64() || id.is_uint64()) return simdjson::minify(id);
  return std::nullopt;
}

}  // namespace omt::ometria
