// The request log's named events: a write that failed (its pushes' outcomes stand; the entries are lost), as a
// warning line and omt_request_log_write_failures_total. Thread-safe: the queue's writer thread emits them.
#pragma once

#include <cstddef>
#include <string_view>

namespace omt::obs {

class Registry;
class Counter;

// Pushes whose entries in the request log could not be written (the queue's own error text: no user data).
struct RequestLogWriteFailed {
  std::size_t pushes = 0;
  std::string_view error;
};

// Registers omt_request_log_write_failures_total at construction.
class RequestLogEvents {
 public:
  explicit RequestLogEvents(Registry& metrics);
  RequestLogEvents(const RequestLogEvents&) = delete;
  RequestLogEvents& operator=(const RequestLogEvents&) = delete;

  void emit(const RequestLogWriteFailed& event);

 private:
  Counter& write_failures_;
};

}  // namespace omt::obs
