// Request log entries for the tests: push n, every field set from n (a 2xx with its receipt, status 0 a timeout),
// odd n in the backfill lane, so that an entry read back can be compared whole with the one logged.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "omt/queue/request_log.hpp"

namespace omt::test {

inline queue::RequestLogEntry logged_push(int n, std::string source = "web", int status = 202) {
  queue::RequestLogEntry e;
  e.at = 1'700'000'000'000 + n * 1000;
  e.source = std::move(source);
  e.key_fingerprint = "key:0000000" + std::to_string(n % 10);
  e.type = ometria::RecordType::order;
  e.lane = n % 2 ? queue::Lane::backfill : queue::Lane::live;
  e.records = static_cast<std::uint32_t>(n);
  e.status = status;
  if (status == 0) e.failure = "timeout";
  if (status / 100 == 2) {
    e.request_id = "req-" + std::to_string(n);
    e.accepted = n;
    e.rejected = 0;
  }
  e.duration_ms = 10 + n;
  return e;
}

}  // namespace omt::test
