// Batching for Ometria pushes: records are grouped by (API key, record type), at most 100 to a batch, and a
// record over 60 KB is refused with a clear reason; a batch is handed out when full or once it has lingered
// (default 200 ms since its first record), measured on steady-clock times the caller passes in.
// Also the push request builder (body + headers) and the parser of Ometria's success body. Pure; never throws.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::delivery {

using SteadyTime = std::chrono::steady_clock::time_point;
using ometria::RecordType;


struct BatchKey {
  std::string api_key;
  RecordType type = RecordType::contact;
  auto operator<=>(const BatchKey&) const = default;
  bool operator==(const BatchKey&) const = default;
};

struct BatchRecord {
  std::int64_t id = 0;  // the durable queue's id of the record (0 when it has none, e.g. a dry run)
  std::string json;     // one compact JSON object
};

struct Batch {
  BatchKey key;
  std::vector<BatchRecord> records;
};

struct BatcherOptions {
  std::size_t max_records = 100;                 // Ometria: at most 100 records a push
  std::size_t max_record_bytes = 60 * 1024;      // Ometria: "Payload invalid: Record is too large."
  std::chrono::milliseconds linger{200};         // how long a partial batch may wait for more records
};

// Not thread-safe: one delivery loop owns a Batcher.
class Batcher {
 public:
  explicit Batcher(BatcherOptions options = {});

  // Adds a record to its (key, type) batch. Returns the batch this record filled, if it did. A record over
  // max_record_bytes is refused (errc::too_large, the batch is unchanged).
  Expected<std::optional<Batch>> add(const BatchKey& key, BatchRecord record, SteadyTime now);

  // Batches whose first record was added at least `linger` before now.
  std::vector<Batch> take_due(SteadyTime now);
  // Every open batch, e.g. on shutdown.
  std::vector<Batch> take_all();
  // When the oldest open batch falls due (nullopt when nothing is open).
  std::optional<SteadyTime> next_due() const;

  std::size_t open_batches() const { return open_.size(); }
  std::size_t pending_records() const { return pending_records_; }
  const BatcherOptions& options() const { return options_; }

 private:
  struct Open {
    std::vector<BatchRecord> records;
    SteadyTime opened;
  };
  BatcherOptions options_;
  std::map<BatchKey, Open> open_;
  std::size_t pending_records_ = 0;
};

// The error a record over the size limit gets (also used by ingest to refuse it before storing).
Error record_too_large(std::size_t bytes, std::size_t limit);

// Groups records as the Batcher would, without linger: each (key, type) in order of first appearance, cut
// into batches of at most max_records. Records over max_record_bytes are left out and reported by index.
struct Grouped {
  std::vector<Batch> batches;
  std::vector<std::pair<std::size_t, Error>> refused;  // (index in the input, why)
};
Grouped group_into_batches(std::span<const std::pair<BatchKey, std::string>> records,
                           const BatcherOptions& options = {});

// One POST to Ometria's push endpoint: the body is a JSON array of the records' JSON.
struct PushRequest {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type, X-Ometria-Auth
  std::size_t record_count = 0;
};
PushRequest build_push_request(std::string_view api_key, std::span<const BatchRecord> records);
inline PushRequest build_push_request(const Batch& batch) {
  return build_push_request(batch.key.api_key, batch.records);
}

// Ometria's success body: {"status":"OK","request_id":"...","accepted":N,"rejected":M}. Missing or mistyped
// fields stay empty; nullopt when the body is not a JSON object (or is over 64 KB, or nested too deeply).
struct PushResponse {
  std::string status;
  std::string request_id;
  std::optional<std::int64_t> accepted;
  std::optional<std::int64_t> rejected;
  bool ok() const { return status == "OK"; }
};
std::optional<PushResponse> parse_push_response(std::string_view body) noexcept;

}  // namespace omt::delivery
