#include "omt/config/values.hpp"

#include <charconv>

#include "omt/core/text.hpp"

namespace omt::config {

namespace {

// Splits "123unit" into the number and the unit; false if there is no leading number.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
  text = text::trim(text);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return false;
  unit = text::trim(std::string_view(end, static_cast<std::size_t>(text.data() + text.size() - end)));
  return true;
}

bool checked_multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  out = a * b;
  return true;
}

}  // namespace

Expected<HostPort> parse_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail(errc::invalid_config, "expected HOST:PORT, got \"" + std::string(text) + "\"");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos) {
    return fail(errc::invalid_config, "an IPv6 host must be bracketed: [::1]:9090");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
    return fail(errc::invalid_config, "expected a port 0..65535, got \"" + std::string(port_text) + "\"");
  }
  return HostPort{host.empty() ? std::string("0.0.0.0") : std::string(host), static_cast<std::uint16_t>(port)};
}

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return fail(errc::invalid_config, "expected a duration like \"250ms\", \"30s\" or \"2m\", got \"" + std::string(text) + "\"");
  }
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m" || unit == "min") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else return fail(errc::invalid_config, "unknown duration unit \"" + std::string(unit) + "\" (use ms, s, m or h)");
  std::uint64_t ms = 0;
  if (!checked_multiply(n, factor, ms) || ms > static_cast<std::uint64_t>(INT64_MAX)) {
    return fail(errc::invalid_config, "duration out of range: " + std::string(text));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Expected<std::size_t> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return fail(errc::invalid_config, "expected a size like \"8KiB\" or \"32MiB\", got \"" + std::string(text) + "\"");
  }
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B") factor = 1;
  else if (unit == "KiB") factor = 1ull << 10;
  else if (unit == "MiB") factor = 1ull << 20;
  else if (unit == "GiB") factor = 1ull << 30;
  else if (unit == "KB" || unit == "kB") factor = 1000;
  else if (unit == "MB") factor = 1000 * 1000;
  else if (unit == "GB") factor = 1000 * 1000 * 1000;
  else return fail(errc::invalid_config, "unknown size unit \"" + std::string(unit) + "\" (use B, KiB, MiB, GiB)");
  std::uint64_t bytes = 0;
  if (!checked_multiply(n, factor, bytes) || bytes > SIZE_MAX) {
    return fail(errc::invalid_config, "size out of range: " + std::string(text));
  }
  return static_cast<std::size_t>(bytes);
}

Expected<std::string> secret_from_environment(std::string_view name, const char* value) {
  if (!value || !*value) return fail(errc::invalid_config, "environment variable " + std::string(name) + " is not set");
  return std::string(value);
}

}  // namespace omt::config
