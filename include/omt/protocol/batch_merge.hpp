// The batch-level "context" and "integrations" of a /v1/batch body (Segment's HTTP API), merged into each of
// its events. Pure; never throws. A duplicated key is read as JSON.parse reads it: the last one.
#pragma once

#include <string>
#include <string_view>

#include "omt/error.hpp"

namespace omt::protocol {

// Segment's HTTP API lets a batch carry "context" and "integrations" beside "batch"; they "will be merged with
// any context inside each of the items". ingest_events applies this rule to each event of a /v1/batch body:
//   * an event without the key (or with null) gets the batch-level object as it is;
//   * an event with an object keeps every key of its own and gains the batch-level keys it lacks. The merge is
//     shallow: the event's own context.traits wins over the batch-level context.traits wholesale;
//   * an event whose value is something else (a string...) keeps it: the event's own value wins.
// Returns the event's JSON with the merge applied (the event's members in their order, then any added key);
// the event unchanged (re-serialised) when there was nothing to add. `batch_level_json` is the batch body, or any
// object holding "context" and/or "integrations" (each an object or null). Errors: errc::invalid_json when
// either text is not JSON, errc::invalid_request naming the batch-level field that is not an object.
Expected<std::string> merge_batch_level_fields(std::string_view event_json, std::string_view batch_level_json);

}  // namespace omt::protocol
