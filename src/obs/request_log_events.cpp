#include "omt/obs/request_log_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

RequestLogEvents::RequestLogEvents(Registry& metrics)
    : write_failures_(metrics.counter("omt_request_log_write_failures_total",
                                      "Pushes whose entry in the request log could not be written (the push's "
                                      "outcome stands)")) {}

void RequestLogEvents::emit(const RequestLogWriteFailed& e) {
  write_failures_.inc(e.pushes);
  EventFields fields;
  fields.number("pushes", std::uint64_t{e.pushes}).text("error", e.error);
  emit_line(spdlog::level::warn, "request_log_write_failed", fields,
            fmt::format("delivery: {} push{} could not be written to the request log (what became of {} stands): {}",
                        e.pushes, e.pushes == 1 ? "" : "es", e.pushes == 1 ? "it" : "them", e.error));
}

}  // namespace omt::obs
