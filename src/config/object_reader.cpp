// The typed, key-checking reads of reader.hpp: each names its full dotted key in errors, the first error wins.
#include <algorithm>
#include <cstdlib>

#include "reader.hpp"

namespace omt::config::detail {

ObjectReader::ObjectReader(ReadContext& context, const nlohmann::json* object, std::string path)
    : context_(context), object_(object), path_(std::move(path)) {}

std::string ObjectReader::key_path(std::string_view key) const {
  if (key.empty()) return path_;
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool is_at_or_under(std::string_view path, std::string_view key) {
  return path.substr(0, key.size()) == key &&
         (path.size() == key.size() || path[key.size()] == '.' || path[key.size()] == '[');
}

std::string origin_of(const ReadContext& context, std::string_view dotted_path) {
  const std::string* best = nullptr;
  std::size_t best_length = 0;
  if (context.origins) {
    for (const auto& [key, origin] : *context.origins) {
      if (is_at_or_under(dotted_path, key) && key.size() >= best_length) {
        best = &origin;
        best_length = key.size();
      }
    }
  }
  return best ? *best : context.source;
}

void ObjectReader::error(std::string_view key, std::string message) {
  if (context_.first_error) return;
  const std::string where = key_path(key);
  const std::string prefix = origin_of(context_, where) + ": " + (where.empty() ? "" : where + ": ");
  context_.first_error = Error{errc::invalid_config, prefix + message, where};
}

const nlohmann::json* ObjectReader::find(std::string_view key) {
  known_.emplace_back(key);
  if (context_.asked) context_.asked->push_back(key_path(key));
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end()) return nullptr;
  return &*it;
}

void ObjectReader::string(std::string_view key, std::string& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string()) return error(key, "expected a string");
  out = v->get<std::string>();
}

void ObjectReader::string_in(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed) {
  std::string value = out;
  string(key, value);
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + (a.empty() ? std::string("\"\"") : std::string(a));
    return error(key, "expected one of " + list + ", got \"" + value + "\"");
  }
  out = value;
}

void ObjectReader::boolean(std::string_view key, bool& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_boolean()) return error(key, "expected true or false");
  out = v->get<bool>();
}

void ObjectReader::integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!v->is_number_integer()) return error(key, "expected an integer " + range);
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return error(key, "expected an integer " + range);
  }
  const auto n = v->get<std::int64_t>();
  if (n < min || n > max) return error(key, "expected an integer " + range + ", got " + std::to_string(n));
  out = n;
}

void ObjectReader::duration(std::string_view key, std::chrono::milliseconds& out, std::chrono::milliseconds min,
                            std::chrono::milliseconds max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  std::chrono::milliseconds value{};
  if (v->is_number_unsigned()) {
    value = std::chrono::milliseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(v->get<std::uint64_t>(), INT64_MAX)));
  } else if (v->is_string()) {
    auto parsed = parse_duration(v->get<std::string>());
    if (!parsed) return error(key, parsed.error().message);
    value = *parsed;
  } else {
    return error(key, "expected a duration like \"250ms\" or \"30s\" (a number is milliseconds)");
  }
  if (value < min || value > max) {
    return error(key, "expected a duration from " + std::to_string(min.count()) + "ms to " +
                          std::to_string(max.count()) + "ms, got " + std::to_string(value.count()) + "ms");
  }
  out = value;
}

void ObjectReader::size(std::string_view key, std::size_t& out, std::size_t min, std::size_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  std::size_t value = 0;
  if (v->is_number_unsigned()) {
    value = static_cast<std::size_t>(v->get<std::uint64_t>());
  } else if (v->is_string()) {
    auto parsed = parse_size(v->get<std::string>());
    if (!parsed) return error(key, parsed.error().message);
    value = *parsed;
  } else {
    return error(key, "expected a size in bytes or a string like \"32MiB\"");
  }
  if (value < min || value > max) {
    return error(key, "expected a size from " + std::to_string(min) + " to " + std::to_string(max) +
                          " bytes, got " + std::to_string(value));
  }
  out = value;
}

void ObjectReader::host_port(std::string_view key, std::string& host, std::uint16_t& port) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string()) return error(key, "expected \"HOST:PORT\"");
  auto parsed = parse_host_port(v->get<std::string>());
  if (!parsed) return error(key, parsed.error().message);
  host = parsed->host;
  port = parsed->port;
}

void ObjectReader::path(std::string_view key, std::filesystem::path& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string() || v->get_ref<const std::string&>().empty()) return error(key, "expected a non-empty path");
  out = v->get<std::string>();
}

void ObjectReader::number(std::string_view key, double& out, double min, double max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_number()) return error(key, "expected a number");
  const double d = v->get<double>();
  if (!(d >= min && d <= max)) return error(key, "expected a number " + std::to_string(min) + ".." + std::to_string(max));
  out = d;
}

void ObjectReader::secret(std::string_view key, std::string& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (v->is_string()) {
    out = v->get<std::string>();
    return;
  }
  if (v->is_object() && v->size() == 1 && v->contains("env") && (*v)["env"].is_string()) {
    const std::string name = (*v)["env"].get<std::string>();
    auto value = secret_from_environment(name, std::getenv(name.c_str()));
    if (!value) return error(key, value.error().message);
    out = std::move(*value);
    return;
  }
  error(key, "expected a string or {\"env\": \"VARIABLE\"}");
}

ObjectReader ObjectReader::object(std::string_view key) {
  const nlohmann::json* v = find(key);
  if (v && !v->is_object()) {
    error(key, "expected an object");
    v = nullptr;
  }
  return ObjectReader(context_, v, key_path(key));
}

std::vector<std::string> ObjectReader::unknown_keys() const {
  std::vector<std::string> unknown;
  if (object_ == nullptr) return unknown;
  for (auto it = object_->begin(); it != object_->end(); ++it)
    if (std::find(known_.begin(), known_.end(), it.key()) == known_.end()) unknown.push_back(it.key());
  return unknown;
}

void ObjectReader::done() {
  const auto unknown = unknown_keys();
  if (unknown.empty()) return;
  std::string known;
  for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
  error(unknown.front(), "unknown key (known here: " + known + ")");
}

}  // namespace omt::config::detail
