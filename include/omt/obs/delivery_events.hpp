// Delivery's named events: what became of each push (delivered, retried, dead-lettered, the key refused), the
// held keys' life (held, probed, accepted again), the queue failures delivery lives with, and the sender's and
// the proxy's own lines. Each event is one struct; DeliveryEvents::emit writes its one log line (the text users
// read, unchanged) and bumps its counters, registered once with the metric names and help texts of before.
// Events take API keys as they are and write only their fingerprints; user text is redacted here, once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace omt::obs {

class Registry;
class Counter;
class Gauge;
class Histogram;

// ---- what became of a push (one of these per answered push) ----
// `status` is the HTTP status, or for no answer the network failure's kind ("timeout", "reset", ...).
struct PushDelivered {
  std::string_view api_key;
  std::string_view type;
  std::size_t records = 0;
  std::string_view status;
  std::optional<std::string_view> request_id;  // Ometria's receipt, when it could be read
  std::optional<std::int64_t> accepted;
  std::int64_t rejected = 0;  // of records: counted apart from the delivered ones in omt_delivery_records_total
  std::chrono::milliseconds took{0};
};
struct PushRetried {
  std::string_view api_key;
  std::string_view type;
  std::size_t records = 0;
  std::string_view status;
  std::string_view reason;  // the retry policy's ("HTTP 503", "timeout", ...)
  std::string_view detail;  // the sender's, for a network failure (no key, no body)
  std::chrono::milliseconds retry_in{0};
  std::uint32_t attempt = 1;  // the attempt that comes next
};
struct RecordsDeadLettered {
  std::string_view api_key;
  std::string_view type;
  std::size_t records = 0;
  std::string_view status;
  std::string_view reason;
};
// The push was refused for its key (401/403); KeyHeld follows when this starts a hold.
struct PushKeyRefused {
  std::string_view status;
};
// A delivered push whose receipt counts rejected records (Ometria validates later; they are not retried).
struct RecordsRejectedByOmetria {
  std::string_view api_key;
  std::string_view type;
  std::int64_t rejected = 0;
  std::size_t records = 0;
};
struct BacklogPause {
  std::string_view api_key;
  std::chrono::milliseconds pause{0};
};
// Every answered push, whatever became of it: its latency.
struct PushAnswered {
  std::chrono::steady_clock::duration took{};
};

// ---- held keys ----
struct KeyHeld {
  std::string_view api_key;
  std::string_view reason;
  std::chrono::milliseconds probe_in{0};
};
struct KeyHeldSincePreviousRun {
  std::string_view api_key;
  std::string_view reason;
  std::chrono::milliseconds probe_in{0};
};
struct KeyProbing {
  std::string_view api_key;
};
struct KeyAcceptedAgain {  // the probe was delivered
  std::string_view api_key;
};
struct KeyNoLongerRefused {  // the probe got another answer than 401/403
  std::string_view api_key;
};
struct KeyHoldDropped {  // an operator command (queue rekey / release) dropped the hold in the queue
  std::string_view api_key;
};
// The keys held now (raw keys; the gauges are labelled by fingerprint).
struct HeldKeysChanged {
  std::span<const std::string> api_keys;
};

// ---- the queue, as delivery sees it ----
struct QueueDepthSeen {
  std::uint64_t depth = 0;
};
// How old the oldest undelivered live record of a source is (0: none waits); sets
// omt_queue_oldest_live_record_age_seconds{source}.
struct OldestLiveRecordAge {
  std::string source;
  std::int64_t seconds = 0;  // whole seconds
};
struct PushesInFlight {
  std::size_t in_flight = 0;
};
// The queue's errors are its own text (SQLite, paths): no user data.
struct ReadyPartitionsUnreadable {
  std::string_view error;
};
struct LeaseFailed {
  std::string_view api_key;
  std::string_view type;
  std::string_view error;
};
struct QueueUpdateFailed {
  std::string_view update;  // "ack", "reschedule", "dead-letter", "hold"
  std::string_view api_key;
  std::string_view type;
  std::string_view error;
};
struct HeldRecordsNotReleased {
  std::string_view error;
};
struct ProbeNotStarted {
  std::string_view api_key;
  std::string_view error;
};
struct HeldKeysUnreadable {
  std::string_view error;
};
struct DeliveryCutOff {};  // stopped with pushes in flight

// ---- the delivery stack ----
struct DeliveryStarted {
  std::string_view queue_path;
  std::uint64_t depth = 0;
  std::string_view endpoint;
};
struct DeliveryThreadStuck {};
// At start-up, for each key the queue holds records (or a hold) under that no configured source has: records keep
// the key they were accepted under, so the operator moves them (queue rekey) or gives them up (queue release).
struct QueuedKeyWithoutSource {
  std::string_view api_key;
  std::uint64_t records = 0;
  bool held = false;  // Ometria refused it (401/403)
};

// ---- the HTTPS sender (debug lines, no counters) ----
struct SenderAnswered {
  std::string_view host;
  std::string_view api_key;
  int status = 0;
};
struct SenderFailed {
  std::string_view host;
  std::string_view api_key;
  std::string_view kind;    // the NetworkError
  std::string_view detail;  // redacted here
};

// ---- the delivery proxy ----
struct ProxyPushAnswered {
  std::string_view api_key;
  int status = 0;                  // Ometria's, or 500 / 429 for no answer
  std::optional<std::string_view> failure;  // set when there was no answer: its description (redacted here)
};

// The events without counters, for callers without a registry.
void emit(const DeliveryStarted& event);
void emit(const DeliveryThreadStuck& event);
void emit(const QueuedKeyWithoutSource& event);
void emit(const SenderAnswered& event);
void emit(const SenderFailed& event);
void emit(const ProxyPushAnswered& event);

// The delivery engine's events: registers omt_delivery_* and omt_queue_depth in the registry at construction.
// Not thread-safe for the push outcomes (one strand emits them); the gauges are.
class DeliveryEvents {
 public:
  explicit DeliveryEvents(Registry& metrics);
  DeliveryEvents(const DeliveryEvents&) = delete;
  DeliveryEvents& operator=(const DeliveryEvents&) = delete;

  void emit(const PushDelivered& event);
  void emit(const PushRetried& event);
  void emit(const RecordsDeadLettered& event);
  void emit(const PushKeyRefused& event);
  void emit(const RecordsRejectedByOmetria& event);
  void emit(const BacklogPause& event);
  void emit(const PushAnswered& event);
  void emit(const KeyHeld& event);
  void emit(const KeyHeldSincePreviousRun& event);
  void emit(const KeyProbing& event);
  void emit(const KeyAcceptedAgain& event);
  void emit(const KeyNoLongerRefused& event);
  void emit(const KeyHoldDropped& event);
  void emit(const HeldKeysChanged& event);
  void emit(const QueueDepthSeen& event);
  void emit(const OldestLiveRecordAge& event);
  void emit(const PushesInFlight& event);
  void emit(const ReadyPartitionsUnreadable& event);
  void emit(const LeaseFailed& event);
  void emit(const QueueUpdateFailed& event);
  void emit(const HeldRecordsNotReleased& event);
  void emit(const ProbeNotStarted& event);
  void emit(const HeldKeysUnreadable& event);
  void emit(const DeliveryCutOff& event);

 private:
  Counter& pushes(std::string_view outcome, std::string_view status);
  Counter& records(std::string_view outcome);
  Gauge& key_held(const std::string& fingerprint);

  Registry& metrics_;
  Gauge& depth_;
  Gauge& held_keys_;
  Gauge& in_flight_;
  Histogram& latency_;
  Counter& delivered_records_;
  Counter& retried_records_;
  Counter& dead_records_;
  Counter& rejected_records_;
  std::map<std::pair<std::string, std::string>, Counter*> pushes_;
  std::map<std::string, Gauge*> key_held_;  // by fingerprint
  std::map<std::string, Gauge*> oldest_live_;  // by source
};

}  // namespace omt::obs
