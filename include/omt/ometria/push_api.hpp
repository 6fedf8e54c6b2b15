// The facts of Ometria's push API (POST /v2/push), in one place: its endpoint, at most 100 records a push, at
// most 60 KB a record (one check, one message), the body of a push and the receipt Ometria answers with, and
// how records are grouped into pushes. Everything that talks to Ometria or prepares for it reads them here.
// Pure; never throws (parse_push_answer is noexcept; the rest allocates only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::ometria {

// Ometria's public push endpoint: the default of ometria.endpoint and what /routerTransform writes into every
// request object.
inline constexpr std::string_view push_endpoint = "https://api.ometria.com/v2/push";

// Ometria takes at most this many records in one push.
inline constexpr std::size_t records_per_push = 100;

// Ometria refuses records over 60 KB ("Payload invalid: Record is too large.").
inline constexpr std::size_t max_record_bytes = 60 * 1024;

// The one size check: a record of `bytes` bytes (compact JSON) fits, or the error says it does not, with the
// same message wherever it is checked. The code is the caller's: a record of an event is the event's fault
// (instrumentation, 400, the default); a whole request refused for it answers too_large (413).
Expected<void> check_record_size(std::size_t bytes, errc code = errc::instrumentation);

// A push's body: the records' JSON objects as one JSON array, in order ("[]" for none).
std::string push_body(std::span<const std::string_view> records);

// Ometria's answer to an accepted push: {"status":"OK","request_id":"...","accepted":N,"rejected":M}.
struct PushReceipt {
  std::string status;
  std::string request_id;
  std::optional<std::int64_t> accepted;
  std::optional<std::int64_t> rejected;  // validated later by Ometria: see GET /v2/push/_errors
  bool ok() const { return status == "OK"; }
};
// Missing or mistyped fields stay empty; nullopt when the body is not a JSON object (or is over 64 KB, or nested
// too deeply).
std::optional<PushReceipt> parse_push_answer(std::string_view body) noexcept;

// What a record is pushed with: the records of one push share both.
struct PushKey {
  std::string_view api_key;
  RecordType type = RecordType::contact;
};
// Records grouped into pushes: by (API key, type), each group in the order its first record appears, each in
// input order, cut into pushes of at most `per_push` (at least 1). Every push is the indices of its records.
// Sizes are not checked here: a record reaches a push only after check_record_size.
std::vector<std::vector<std::size_t>> group_into_pushes(std::span<const PushKey> records,
                                                         std::size_t per_push = records_per_push);

}  // namespace omt::ometria
