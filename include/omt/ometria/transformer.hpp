// The Ometria mappers: one RudderStack message (identify / track) -> one Ometria record (contact, order with
// line items, custom_event), as compact JSON in rudder-transformer's key order. Pure and thread-safe:
// a Transformer is built once from the mapping tables and shared by every thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "omt/error.hpp"

namespace simdjson::dom {
class element;
}

namespace omt::mapping {
struct TableSet;
}

namespace omt::json {
struct OutObject;  // the output tree (src/json/out_value.hpp), internal
}

namespace omt::ometria {

// The destination settings (RudderStack's destination.Config, or a source's delivery settings).
struct DestinationConfig {
  std::string api_key;
  std::optional<std::string> marketing_optin;  // sent as given (Ometria: EXPLICITLY_OPTEDIN|..._OPTEDOUT|NOT_SPECIFIED)
  std::optional<bool> allow_marketing;
  std::optional<bool> allow_transactional;
  std::optional<std::string> collection;  // "@collection" for contacts that do not name one
};

// Reads destination.Config: apiKey, marketingOptin, allowMarketing, allowTransactional (booleans or
// "true"/"false"). Unknown keys are ignored; a missing or non-object Config gives empty settings.
DestinationConfig destination_config_from(const simdjson::dom::element& config);

// product: made only by a source's own mapping (omt/sources/products.hpp), never by transform().
enum class RecordType : std::uint8_t { contact, order, custom_event, product };
std::string_view to_string(RecordType type);                     // the Ometria "@type"
std::optional<RecordType> record_type_from(std::string_view name);  // its inverse

// How a record's text is written: compact JSON, or that JSON as the content of a JSON string (escaped once more,
// without quotes), which is how rudder-transformer's request objects carry records ("batch" is a string): written
// so at once, the routes do not escape every record a second time.
enum class RecordText : std::uint8_t { json, string_content };

struct Record {
  RecordType type = RecordType::contact;
  std::string json;  // one compact JSON object, in the RecordText that transform() was asked for
};

// A source's own step between the mapping and the one serialisation of a record: it edits the record's output
// tree in place (so no record is written, parsed and written again); an error fails the event.
using RecordEdit = std::function<Expected<void>(RecordType, json::OutObject&)>;

class Transformer {
 public:
  // Loads and validates mappings/*.json from a directory, including that each table still maps the output keys
  // this code reads back (ometria/output_contract.hpp); the error names the file, the rule and the key.
  static Expected<Transformer> load(const std::filesystem::path& mappings_dir);
  // (The folder to load is chosen at the edge: src/cli/mappings_location.hpp for the binary.)

  // Checks in the contract's order: event type, apiKey, then identify/track mapping.
  Expected<Record> transform(const simdjson::dom::element& message, const DestinationConfig& config,
                             RecordText text = RecordText::json) const;
  // The same steps over other tables built from tables() at load (a source's own: omt/sources/).
  Expected<Record> transform(const simdjson::dom::element& message, const DestinationConfig& config,
                             const mapping::TableSet& tables) const;
  // The same with `edit` applied to the record before it is serialised (and its size checked).
  Expected<Record> transform(const simdjson::dom::element& message, const DestinationConfig& config,
                             const mapping::TableSet& tables, const RecordEdit& edit) const;

  // The record type an event would become (from its type and event name), for metrics of failed events too.
  std::optional<RecordType> record_type_of(const simdjson::dom::element& message) const;
  // The same by other tables (a source's own, whose order event names may be more).
  std::optional<RecordType> record_type_of(const simdjson::dom::element& message, const mapping::TableSet& tables) const;

  // The loaded tables, for the stages of a source's own mapping (omt/sources/), which read tables of their own.
  const mapping::TableSet& tables() const { return *tables_; }

  Transformer(Transformer&&) noexcept;
  Transformer& operator=(Transformer&&) noexcept;
  ~Transformer();

 private:
  explicit Transformer(std::shared_ptr<const mapping::TableSet> tables);
  std::shared_ptr<const mapping::TableSet> tables_;
};

}  // namespace omt::ometria
