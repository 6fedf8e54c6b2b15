#include "omt/obs/event.hpp"

#include <fmt/format.h>

#include "omt/obs/log.hpp"

namespace omt::obs {

namespace {
// Set only while emit_line's spdlog call runs: the default logger is synchronous, so the formatter runs on
// this thread inside that call.
thread_local const detail::CurrentEvent* t_current = nullptr;
}  // namespace

EventFields& EventFields::text(std::string_view name, std::string_view value) {
  fields_.push_back({std::string(name), std::string(value), true});
  return *this;
}

EventFields& EventFields::user_text(std::string_view name, std::string_view value) {
  fields_.push_back({std::string(name), redact_pii(value), true});
  return *this;
}

EventFields& EventFields::number(std::string_view name, std::int64_t value) {
  fields_.push_back({std::string(name), std::to_string(value), false});
  return *this;
}

EventFields& EventFields::number(std::string_view name, std::uint64_t value) {
  fields_.push_back({std::string(name), std::to_string(value), false});
  return *this;
}

EventFields& EventFields::number(std::string_view name, double value) {
  fields_.push_back({std::string(name), fmt::format("{:.1f}", value), false});
  return *this;
}

EventFields& EventFields::flag(std::string_view name, bool value) {
  fields_.push_back({std::string(name), value ? "true" : "false", false});
  return *this;
}

std::string_view EventFields::operator[](std::string_view name) const {
  for (const auto& field : fields_) {
    if (field.name == name) return field.value;
  }
  return {};
}

void emit_line(spdlog::level::level_enum level, std::string_view event, const EventFields& fields,
               std::string_view message) {
  if (!spdlog::should_log(level)) return;
  const detail::CurrentEvent current{event, &fields};
  const auto* outer = t_current;
  t_current = &current;
  try {
    spdlog::log(level, "{}", message);
  } catch (...) {
    t_current = outer;
    throw;
  }
  t_current = outer;
}

const detail::CurrentEvent* detail::current_event() noexcept { return t_current; }

}  // namespace omt::obs
