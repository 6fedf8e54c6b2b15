#include "omt/delivery/batcher.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace omt::delivery {

Error record_too_large(std::size_t bytes, std::size_t limit) {
  return Error{errc::too_large,
               "Record is too large: " + std::to_string(bytes) + " bytes, Ometria accepts at most " +
                   std::to_string(limit) + " bytes a record",
               ""};
}

Batcher::Batcher(BatcherOptions options) : options_(options) {
  options_.max_records = std::max<std::size_t>(options_.max_records, 1);
}

Expected<std::optional<Batch>> Batcher::add(const BatchKey& key, BatchRecord record, SteadyTime now) {
  if (record.json.size() > options_.max_record_bytes) {
    return tl::unexpected(record_too_large(record.json.size(), options_.max_record_bytes));
  }
  auto [it, inserted] = open_.try_emplace(key);
  if (inserted) {
    it->second.opened = now;
    it->second.records.reserve(options_.max_records);
  }
  it->second.records.push_back(std::move(record));
  ++pending_records_;
  if (it->second.records.size() < options_.max_records) return std::optional<Batch>{};
  Batch full{it->first, std::move(it->second.records)};
  pending_records_ -= full.records.size();
  open_.erase(it);
  return std::optional<Batch>{std::move(full)};
}

std::vector<Batch> Batcher::take_due(SteadyTime now) {
  std::vector<Batch> due;
  for (auto it = open_.begin(); it != open_.end();) {
    if (now - it->second.opened >= options_.linger) {
      pending_records_ -= it->second.records.size();
      due.push_back(Batch{it->first, std::move(it->second.records)});
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

std::vector<Batch> Batcher::take_all() {
  std::vector<Batch> all;
  all.reserve(open_.size());
  for (auto& [key, open] : open_) all.push_back(Batch{key, std::move(open.records)});
  open_.clear();
  pending_records_ = 0;
  return all;
}

std::optional<SteadyTime> Batcher::next_due() const {
  std::optional<SteadyTime> earliest;
  for (const auto& [key, open] : open_) {
    if (!earliest || open.opened < *earliest) earliest = open.opened;
  }
  if (earliest) return *earliest + options_.linger;
  return std::nullopt;
}

Grouped group_into_batches(std::span<const std::pair<BatchKey, std::string>> records, const BatcherOptions& options) {
  Grouped grouped;
  const std::size_t max_records = std::max<std::size_t>(options.max_records, 1);
  // Index of the batch currently filling for each key, so output keeps the order keys first appear in.
  std::map<BatchKey, std::size_t> filling;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& [key, json] = records[i];
    if (json.size() > options.max_record_bytes) {
      grouped.refused.emplace_back(i, record_too_large(json.size(), options.max_record_bytes));
      continue;
    }
    auto it = filling.find(key);
    if (it == filling.end() || grouped.batches[it->second].records.size() >= max_records) {
      grouped.batches.push_back(Batch{key, {}});
      filling.insert_or_assign(key, grouped.batches.size() - 1);
      it = filling.find(key);
    }
    grouped.batches[it->second].records.push_back(BatchRecord{0, json});
  }
  return grouped;
}

PushRequest build_push_request(std::string_view api_key, std::span<const BatchRecord> records) {
  PushRequest request;
  std::size_t size = 2 + records.size();
  for (const auto& record : records) size += record.json.size();
  request.body.reserve(size);
  request.body.push_back('[');
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i != 0) request.body.push_back(',');
    request.body.append(records[i].json);
  }
  request.body.push_back(']');
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("X-Ometria-Auth", std::string(api_key));
  request.record_count = records.size();
  return request;
}

namespace {

// nlohmann parses recursively; refuse deep nesting before handing it a body an attacker (or a broken proxy)
// could shape. Ometria's success body is one flat object.
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

std::optional<PushResponse> parse_push_response(std::string_view body) noexcept {
  constexpr std::size_t max_body = 64 * 1024;
  if (body.size() > max_body || !nesting_within(body, 16)) return std::nullopt;
  try {
    const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return std::nullopt;
    PushResponse response;
    if (auto it = parsed.find("status"); it != parsed.end() && it->is_string()) {
      response.status = it->get<std::string>();
    }
    if (auto it = parsed.find("request_id"); it != parsed.end()) {
      if (it->is_string()) response.request_id = it->get<std::string>();
      else if (it->is_number_integer()) response.request_id = it->dump();
    }
    if (auto it = parsed.find("accepted"); it != parsed.end()) response.accepted = count_field(*it);
    if (auto it = parsed.find("rejected"); it != parsed.end()) response.rejected = count_field(*it);
    return response;
  } catch (...) {
    // Only allocation failure can get here; a push's bookkeeping must not take the sender down with it.
    return std::nullopt;
  }
}

}  // namespace omt::delivery
