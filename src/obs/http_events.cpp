#include "omt/obs/http_events.hpp"

#include <fmt/format.h>

#include "omt/core/text.hpp"
#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

namespace {

// "METHOD target" -> the method (a token Beast parsed) and the target (user text: redacted).
struct RequestLine {
  std::string_view method;
  std::string target;  // redacted
};
RequestLine split(std::string_view request_line) {
  const auto space = request_line.find(' ');
  if (space == std::string_view::npos) return {{}, redact_pii(request_line)};
  return {request_line.substr(0, space), redact_pii(request_line.substr(space + 1))};
}

std::string shown(const RequestLine& line) {
  if (line.method.empty() && line.target.empty()) return "-";
  if (line.method.empty()) return line.target;
  return std::string(line.method) + " " + line.target;
}

}  // namespace

HttpRoute::HttpRoute(Registry& registry, std::string label) : registry_(registry), label_(std::move(label)) {
  latency_ = &registry_.histogram("omt_http_request_duration_seconds", "Time from a request's first byte to its answer",
                                  latency_buckets_seconds(), {{"route", label_}});
}

void HttpRoute::count(int status, std::chrono::steady_clock::duration elapsed) {
  latency_->observe(std::chrono::duration<double>(elapsed).count());
  if (status < 100 || status >= max_status) status = 500;
  // Registered the first time a status is answered; a relaxed pointer load afterwards. Two threads racing here
  // get the same series (registering is idempotent).
  Counter* counter = by_status_[static_cast<std::size_t>(status)].load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &registry_.counter("omt_http_requests_total", "HTTP requests answered, by route and status",
                                 {{"route", label_}, {"status", std::to_string(status)}});
    by_status_[static_cast<std::size_t>(status)].store(counter, std::memory_order_release);
  }
  counter->inc();
}

HttpEvents::HttpEvents(Registry& registry, const std::vector<std::string>& route_labels) {
  routes_.reserve(route_labels.size());
  for (const auto& label : route_labels) routes_.push_back(std::make_unique<HttpRoute>(registry, label));
  unmatched_ = std::make_unique<HttpRoute>(registry, "unmatched");
  invalid_ = std::make_unique<HttpRoute>(registry, "invalid");
  connections_open_ = &registry.gauge("omt_http_connections_open", "Open client connections");
  connections_rejected_ = &registry.counter("omt_http_connections_rejected_total",
                                            "Connections refused with 503 because max_connections were open");
}

HttpEvents::~HttpEvents() = default;

bool HttpEvents::access_lines_on() { return spdlog::should_log(level_enum::debug); }

void HttpEvents::emit(const ServerListening& e) {
  EventFields fields;
  fields.text("endpoint", e.endpoint).number("threads", static_cast<std::uint64_t>(e.threads));
  emit_line(level_enum::info, "server_listening", fields, fmt::format("listening on {} ({} threads)", e.endpoint, e.threads));
}

void HttpEvents::emit(const AcceptFailed& e) {
  EventFields fields;
  fields.text("error", e.error);
  emit_line(level_enum::warn, "accept_failed", fields, fmt::format("accept failed: {}", e.error));
}

void HttpEvents::emit(const ConnectionRejected&) { connections_rejected_->inc(); }
void HttpEvents::emit(const ConnectionOpened&) { connections_open_->add(); }
void HttpEvents::emit(const ConnectionClosed&) { connections_open_->sub(); }

void HttpEvents::emit(const ConnectionTimedOut& e) {
  if (!spdlog::should_log(level_enum::debug)) return;
  EventFields fields;
  fields.number("connection", e.connection);
  emit_line(level_enum::debug, "connection_timed_out", fields, fmt::format("connection {}: timed out", e.connection));
}

void HttpEvents::emit(const RequestBodyRead& e) {
  if (!spdlog::should_log(level_enum::trace) || e.body.empty()) return;
  const RequestLine line = split(e.request_line);
  EventFields fields;
  fields.number("connection", e.connection).text("method", line.method).text("target", line.target);
  const std::string_view coding = e.content_encoding;
  std::string message;
  if (coding.empty() || text::iequals(coding, "identity")) {
    const std::string body = loggable_body(e.body);  // redacted, then cut
    fields.text("body", body);
    message = fmt::format("connection {}: {} body: {}", e.connection, shown(line), body);
  } else {
    // Compressed bytes would pass redaction untouched and could be inflated from the log: only their size.
    const std::string coding_shown = redact_pii(coding.substr(0, 32));
    fields.number("body_bytes", static_cast<std::uint64_t>(e.body.size())).text("content_encoding", coding_shown);
    message = fmt::format("connection {}: {} body: {} bytes, Content-Encoding {}", e.connection, shown(line),
                          e.body.size(), coding_shown);
  }
  emit_line(level_enum::trace, "request_body_read", fields, message);
}

void HttpEvents::emit(const RequestServed& e) {
  if (e.route != nullptr) e.route->count(e.status, e.elapsed);
  if (!spdlog::should_log(level_enum::debug)) return;
  const RequestLine line = split(e.request_line);
  const double ms = std::chrono::duration<double, std::milli>(e.elapsed).count();
  EventFields fields;
  fields.number("connection", e.connection).text("method", line.method).text("target", line.target);
  fields.number("status", e.status).number("duration_ms", ms);
  if (e.route != nullptr) fields.text("route", e.route->label());
  emit_line(level_enum::debug, "request_served", fields,
            fmt::format("connection {}: {} -> {} in {:.1f} ms", e.connection, shown(line), e.status, ms));
  if (spdlog::should_log(level_enum::trace) && !e.answer_body.empty()) {
    const std::string body = loggable_body(e.answer_body);
    EventFields body_fields;
    body_fields.number("connection", e.connection).text("body", body);
    emit_line(level_enum::trace, "answer_body_written", body_fields,
              fmt::format("connection {}: answer body: {}", e.connection, body));
  }
}

void HttpEvents::emit(const HandlerThrew& e) {
  EventFields fields;
  fields.user_text("path", e.path);
  if (e.what == nullptr) {
    emit_line(level_enum::err, "handler_threw", fields, fmt::format("handler for {} threw a non-exception", fields["path"]));
    return;
  }
  fields.user_text("error", e.what);
  emit_line(level_enum::err, "handler_threw", fields,
            fmt::format("handler for {} threw: {}", fields["path"], fields["error"]));
}

void HttpEvents::emit(const ServerThreadThrew& e) {
  EventFields fields;
  if (e.what == nullptr) {
    emit_line(level_enum::err, "server_thread_threw", fields, "uncaught non-exception in the server");
    return;
  }
  fields.user_text("error", e.what);
  emit_line(level_enum::err, "server_thread_threw", fields,
            fmt::format("uncaught exception in the server: {}", fields["error"]));
}

void HttpEvents::emit(const StoppedAccepting& e) {
  EventFields fields;
  fields.number("deadline_ms", static_cast<std::int64_t>(e.deadline.count()))
      .number("open_connections", static_cast<std::uint64_t>(e.open_connections));
  emit_line(level_enum::info, "stopped_accepting", fields,
            fmt::format("stopped accepting; waiting up to {} ms for {} open connection(s)", e.deadline.count(),
                        e.open_connections));
}

void HttpEvents::emit(const ShutdownDeadlinePassed& e) {
  EventFields fields;
  fields.number("open_connections", static_cast<std::uint64_t>(e.open_connections));
  emit_line(level_enum::warn, "shutdown_deadline_passed", fields,
            fmt::format("shutdown deadline passed with {} connection(s) still busy; closing them", e.open_connections));
}

void HttpEvents::emit(const ServerStopped&) {
  emit_line(level_enum::info, "server_stopped", EventFields{}, "server stopped");
}

}  // namespace omt::obs
