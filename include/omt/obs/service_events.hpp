// The service's own life: start-up, the mapping tables it loaded, a failed start, a stop signal and the drain.
// The model for every area's events: one struct per outcome, one emit overload each (obs/event.hpp has the rules).
// These events bump no counter (the process is starting or going); areas with counters take obs::Registry& in
// an events object, as obs/delivery_events.hpp does.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace omt::obs {

struct ServiceStarting {
  std::string_view version;
  std::uint64_t open_file_limit = 0;
};
struct MappingsLoaded {
  std::string_view directory;
  std::string_view chosen_by;  // "mappings_dir", "OMT_MAPPINGS_DIR", "installed beside the binary", ...
};
// Paths, versions and start-up errors are the operator's own text, not user data: written as they are.
struct MappingsFailed {
  std::string_view directory;
  std::string_view error;
};
struct StartUpFailed {
  std::string_view error;  // already names the key, flag or address at fault
};
struct StopSignalled {
  std::string_view signal;  // "SIGTERM" or "SIGINT"
  std::chrono::milliseconds deadline{0};
};
struct RequestsCutOff {};
// A call run later (a held-back ingest answer, net::DelayedCalls) threw; the others still run (error).
struct DelayedCallThrew {
  std::string_view what;
};

void emit(const ServiceStarting& event);
void emit(const MappingsLoaded& event);
void emit(const MappingsFailed& event);
void emit(const StartUpFailed& event);
void emit(const StopSignalled& event);
void emit(const RequestsCutOff& event);
void emit(const DelayedCallThrew& event);

}  // namespace omt::obs
