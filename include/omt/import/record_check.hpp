// The one check every native Ometria record of an import goes through, whatever format it was read from (JSON
// Lines of records, CSV rows made into records): is it a record Ometria's push API can take? Pure and
// thread-safe; never throws. What it asks, per OMETRIA_API.md and the transformer's own tables:
//   every record: a JSON object, "@type" one of contact, order, product, custom_event, a non-empty "id"
//   (string or integer), at most 60 KB compact (ometria::check_record_size);
//   contact: "email";  order: "timestamp" (ISO-8601), "grand_total" (number), "currency" (string);
//   product: "title", "price" (number);  custom_event: "event_type" (under 32 characters), "timestamp"
//   (ISO-8601), and who it is about: "identity_email", "identity_account_id" or "profile_id".
#pragma once

#include <string>
#include <string_view>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::import {

struct CheckedRecord {
  ometria::RecordType type = ometria::RecordType::contact;
  std::string json;  // compact (minified) JSON, as it will be pushed
};

// The record, or why not: error.path names the field at fault ("" for the record as a whole: not JSON, not an
// object), error.message the reason, so that a plan can print "FILE:LINE: field: reason".
Expected<CheckedRecord> check_record(std::string_view json);

}  // namespace omt::import
