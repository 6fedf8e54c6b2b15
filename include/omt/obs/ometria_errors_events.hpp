// The named events of reading what Ometria rejected after a 2xx (GET /v2/push/_errors): each new error listed
// (a warning line, and omt_ometria_errors_total by key fingerprint and whether it was matched to our records), and
// each poll's outcome (omt_ometria_errors_polls_total by outcome). Keys are written as fingerprints only; what
// Ometria says (messages, paths, ids) is redacted of e-mail addresses and phone numbers here, once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace omt::obs {

class Registry;
class Counter;

// One error Ometria listed that was not known before (occurrences: how many new ones of this very entry).
struct OmetriaErrorListed {
  std::string_view api_key;
  std::string_view message;
  std::string_view path;
  std::optional<std::string_view> record_id{};   // the entry's own, when the answer carries one (UNVERIFIED shape)
  std::optional<std::string_view> request_id{};
  std::uint32_t occurrences = 1;
  // Our push it was matched to: its request id, its record type and the records it names (count and first id).
  bool matched = false;
  std::string_view matched_request_id{};
  std::string_view matched_type{};
  std::size_t matched_records = 0;
  std::string_view first_matched_record{};
};
// A poll was answered and read: how many entries it listed, how many were new, how many could not be read.
struct OmetriaErrorsPolled {
  std::string_view api_key;
  std::size_t listed = 0;
  std::size_t new_errors = 0;
  std::size_t ignored = 0;
};
// A poll got no usable answer: `status` is the HTTP status or the network failure's kind; the detail is redacted.
struct OmetriaErrorsPollFailed {
  std::string_view api_key;
  std::string_view status;
  std::string_view detail;
};
// The listed errors could not be kept (the queue's own error text: no user data).
struct OmetriaErrorsNotStored {
  std::string_view api_key;
  std::string_view error;
};

// Registers omt_ometria_errors_total and omt_ometria_errors_polls_total at construction. Not thread-safe (the
// delivery engine's strand emits them).
class OmetriaErrorEvents {
 public:
  explicit OmetriaErrorEvents(Registry& metrics);
  OmetriaErrorEvents(const OmetriaErrorEvents&) = delete;
  OmetriaErrorEvents& operator=(const OmetriaErrorEvents&) = delete;

  void emit(const OmetriaErrorListed& event);
  void emit(const OmetriaErrorsPolled& event);
  void emit(const OmetriaErrorsPollFailed& event);
  void emit(const OmetriaErrorsNotStored& event);

 private:
  Counter& errors(const std::string& fingerprint, bool matched);
  Counter& polls(std::string_view outcome);

  Registry& metrics_;
  std::map<std::pair<std::string, bool>, Counter*> errors_;
};

}  // namespace omt::obs
