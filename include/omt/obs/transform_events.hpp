// The transform routes' outcomes (/v0/destinations/ometria, /routerTransform), one event per event of a request:
// omt_events_total{type, outcome="ok"|"failed"} and omt_event_errors_total{class} (the statTags class of the
// error, errc's name). Metric names, labels and help text are those /metrics has always shown. These events
// write no log line: the request's own access line (http_events) tells of the request.
#pragma once

#include <array>
#include <cstdint>

#include "omt/error.hpp"

namespace omt::obs {

class Registry;
class Counter;

// What an event became, or would have become: the "type" label. other: the type could not be told.
enum class EventKind : std::uint8_t { identify, order, custom_event, other };

struct EventTransformed {
  EventKind kind = EventKind::other;
};
struct EventRejected {
  EventKind kind = EventKind::other;
  errc error = errc::instrumentation;
};

class TransformEvents {
 public:
  explicit TransformEvents(Registry& registry);  // registers every series once, so /metrics shows them at 0

  void emit(const EventTransformed& event) const;
  void emit(const EventRejected& event) const;

 private:
  static constexpr std::size_t kinds = 4;
  std::array<Counter*, kinds> transformed_{};
  std::array<Counter*, kinds> rejected_{};
  std::array<Counter*, 16> errors_by_class_{};  // by errc value; null for the classes never counted
};

}  // namespace omt::obs
