// The facts of Ometria's push API (POST /v2/push), in one place: its endpoint, at most 100 records a push, at
// most 60 KB a record (one check, one message), the body of a push and the receipt Ometria answers with, how
// records are grouped into pushes, and GET /v2/push/_errors (what Ometria rejected after accepting a push).
// Everything that talks to Ometria or prepares for it reads them here.
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

// ---- GET /v2/push/_errors: what Ometria rejected after a 2xx ----
// A 2xx only means "received"; records are validated later, and the account's last 100 validation errors are
// listed by GET <push endpoint>/_errors (same X-Ometria-Auth key, same rate limit) as
//   [{"error_message":"...","error_path":"root > lastname"}]                                    (documented)
// Fivetran's stored copy of that list also has record_id, request_id, record_type and time_stamp: whether the API
// sends them is UNVERIFIED (../shared/OMETRIA_RECORDS.md), so both shapes are read, and ids are used when present.

// The errors URL of a push endpoint: "https://api.ometria.com/v2/push" -> ".../v2/push/_errors" (a query is kept
// after the path; a trailing slash is not doubled).
std::string errors_endpoint_for(std::string_view endpoint);

// The limits of reading an errors answer: Ometria lists 100; more are ignored (and counted), over-long texts cut.
inline constexpr std::size_t max_errors_answer_bytes = 1024 * 1024;
inline constexpr std::size_t max_errors_per_answer = 1000;
inline constexpr std::size_t max_error_text_bytes = 2048;

// One entry of the list. Texts may echo user data (an e-mail address in a message): log them only redacted.
struct OmetriaError {
  std::string message;  // error_message
  std::string path;     // error_path, e.g. "root > lastname"
  // UNVERIFIED fields: set only when the answer carries them (strings, or integers as their text).
  std::optional<std::string> record_id;
  std::optional<std::string> request_id;  // the push receipt's request_id
  std::optional<std::string> record_type;
  std::optional<std::string> time_stamp;
  bool operator==(const OmetriaError&) const = default;
};

struct OmetriaErrorList {
  std::vector<OmetriaError> errors;  // in the answer's order
  std::size_t ignored = 0;           // entries that were not objects, carried nothing, or came past the limit
};

// Reads an errors answer: a JSON array of entries, or (leniently, as the shape is not fixed) an object whose
// "errors" or "data" member is that array. Errors: not JSON, another shape, over max_errors_answer_bytes, nested
// deeper than 16. Texts over max_error_text_bytes are cut (at a UTF-8 character boundary).
Expected<OmetriaErrorList> parse_errors_answer(std::string_view body);

// A stable digest of an entry (all its fields), the same in every run and build: the same error listed by two
// polls is one error, not two.
std::string error_digest(const OmetriaError& error);

// The "id" of a record's compact JSON object, as text (an integer id as its digits); nullopt when there is none.
std::optional<std::string> record_id_of(std::string_view record_json);

}  // namespace omt::ometria
