// The ingest routes' outcomes (/v1/webhook, /v1/identify, /v1/track, /v1/batch): a coded body decoded (debug,
// and the decoded body, redacted, at trace), events rejected or skipped and records stored (omt_ingest_events_total by
// outcome), the queue refusing a request's records (warn, one line per kRefusedLineEvery at most: a database
// outage refuses every request; those not written are told once the queue stores again, or at the end), an answer held back while the queue is deep
// (omt_ingest_slowed_answers_total), a browser origin refused (omt_ingest_cors_refused_total), rejected events
// kept for replay (debug) and old ones dropped for the store's bound (warn, omt_ingest_rejected_events_dropped_total). Lines, metric names, labels and help text as users have always seen them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omt::obs {

class Registry;
class Counter;

// A body sent with Content-Encoding, decoded. coding: "gzip" or "deflate".
struct IngestBodyDecoded {
  std::string_view coding;
  std::size_t encoded_bytes = 0;
  std::string_view decoded;
};
// Events of one request that could not be transformed (answered in "rejected"; kept for replay when they are
// event objects); dry runs are not counted.
struct IngestEventsRejected {
  std::size_t events = 0;
};
// Events of one request accepted and skipped, by outcome: "skipped" for a call type Ometria has no record for
// (page, screen, group, alias), or the outcome of a source's own skip ("no_consent", ...); dry runs are not
// counted.
struct IngestEventsSkipped {
  std::size_t events = 0;
  std::string_view outcome = "skipped";
};
// A request's accepted records, durable in the queue.
struct IngestRecordsStored {
  std::size_t records = 0;
};
// The queue refused a request's records (answered 413 or 503). error: the queue's own message (no user data).
// One line at most every kRefusedLineEvery: the refusals in between are counted, and the next line says how many.
struct IngestQueueRefused {
  std::size_t records = 0;
  std::string_view error;
  std::chrono::steady_clock::time_point at{};  // when; the default: now (tests pass their own)
};
inline constexpr std::chrono::seconds kRefusedLineEvery{10};
// A request's write committed (with records or not): the queue stores again. Refusals not written yet are written
// now in one line, at most one such line every kRefusedLineEvery (later ones wait for the next commit after it, the
// next refusal line, or the end: the last IngestEvents copy going writes what is left, so none goes untold).
struct IngestQueueStored {
  std::chrono::steady_clock::time_point at{};  // when; the default: now (tests pass their own)
};
// A request's rejected events, durable in the rejected-events store (with its accepted records, if any).
struct IngestRejectedEventsKept {
  std::size_t events = 0;
};
// Storing a request's rejected events took the store past queue.max_rejected_events: the oldest were dropped.
struct IngestRejectedEventsDropped {
  std::uint64_t events = 0;
};
// An answer held back because the queue is over ingest.slow_down_from.
struct IngestAnswerHeld {};
// A browser's Origin that no source allows (preflight) or that the sending source does not allow: the answer
// carries no CORS headers, so the browser blocks it. preflight: an OPTIONS request.
struct IngestCorsRefused {
  std::string_view origin;
  bool preflight = false;
};

class IngestEvents {
 public:
  // registry: null counts nothing (the routes were registered without metrics); the lines are written anyway.
  // skip_outcomes: the outcomes of sources' own skips, each counted under its own label (an outcome not
  // listed is counted as "skipped").
  explicit IngestEvents(Registry* registry, std::span<const std::string_view> skip_outcomes = {});

  void emit(const IngestBodyDecoded& event) const;
  void emit(const IngestEventsRejected& event) const;
  void emit(const IngestEventsSkipped& event) const;
  void emit(const IngestRecordsStored& event) const;
  void emit(const IngestQueueRefused& event) const;
  void emit(const IngestQueueStored& event) const;
  void emit(const IngestAnswerHeld& event) const;
  void emit(const IngestRejectedEventsKept& event) const;
  void emit(const IngestRejectedEventsDropped& event) const;
  void emit(const IngestCorsRefused& event) const;

 private:
  Counter* accepted_events_ = nullptr;
  Counter* rejected_events_ = nullptr;
  Counter* skipped_events_ = nullptr;
  std::vector<std::pair<std::string, Counter*>> skip_outcome_events_;
  Counter* slowed_answers_ = nullptr;
  Counter* cors_refused_ = nullptr;
  Counter* rejected_dropped_ = nullptr;
  struct Refusals;                      // refusals not written yet, and when the last line was (shared by copies)
  std::shared_ptr<Refusals> refusals_;
};

}  // namespace omt::obs
