#include "omt/ometria/push_api.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

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

}  // namespace omt::ometria
