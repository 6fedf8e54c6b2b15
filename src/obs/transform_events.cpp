#include "omt/obs/transform_events.hpp"

#include <string>

#include "omt/obs/metrics.hpp"

namespace omt::obs {

namespace {

constexpr std::array<const char*, 4> kind_labels = {"identify", "order", "custom_event", "other"};
constexpr std::size_t index_of(EventKind kind) { return static_cast<std::size_t>(kind); }
static_assert(index_of(EventKind::other) + 1 == kind_labels.size());

// The classes omt_event_errors_total has always had a series for: instrumentation .. invalid_config.
constexpr errc first_counted_class = errc::instrumentation;
constexpr errc last_counted_class = errc::invalid_config;

}  // namespace

TransformEvents::TransformEvents(Registry& registry) {
  for (std::size_t k = 0; k < kinds; ++k) {
    transformed_[k] = &registry.counter("omt_events_total", "Events transformed, by type and outcome",
                                        {{"type", kind_labels[k]}, {"outcome", "ok"}});
    rejected_[k] = &registry.counter("omt_events_total", "Events transformed, by type and outcome",
                                     {{"type", kind_labels[k]}, {"outcome", "failed"}});
  }
  for (int code = static_cast<int>(first_counted_class); code <= static_cast<int>(last_counted_class); ++code) {
    errors_by_class_[static_cast<std::size_t>(code)] =
        &registry.counter("omt_event_errors_total", "Events that failed, by error class",
                          {{"class", std::string(to_string(static_cast<errc>(code)))}});
  }
}

void TransformEvents::emit(const EventTransformed& event) const { transformed_[index_of(event.kind)]->inc(); }

void TransformEvents::emit(const EventRejected& event) const {
  rejected_[index_of(event.kind)]->inc();
  const auto code = static_cast<std::size_t>(event.error);
  if (code < errors_by_class_.size() && errors_by_class_[code] != nullptr) errors_by_class_[code]->inc();
}

}  // namespace omt::obs
