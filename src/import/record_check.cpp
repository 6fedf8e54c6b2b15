// The record check: one table of required fields per type, read by one loop.
#include "omt/import/record_check.hpp"

#include <simdjson.h>

#include "json/member.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/validate/validators.hpp"

namespace omt::import {
namespace {
namespace dom = simdjson::dom;

enum class Kind { text, number, iso_time };

struct Required {
  std::string_view field;
  Kind kind;
};

struct TypeRules {
  ometria::RecordType type;
  std::initializer_list<Required> required;
};

// What each type needs beyond @type and id.
const TypeRules kRules[] = {
    {ometria::RecordType::contact, {{"email", Kind::text}}},
    {ometria::RecordType::order, {{"timestamp", Kind::iso_time}, {"grand_total", Kind::number}, {"currency", Kind::text}}},
    {ometria::RecordType::product, {{"title", Kind::text}, {"price", Kind::number}}},
    {ometria::RecordType::custom_event, {{"event_type", Kind::text}, {"timestamp", Kind::iso_time}}},
};

// Who a custom event is about: one of these.
constexpr std::string_view kEventIdentities[] = {"identity_email", "identity_account_id", "profile_id"};
// Ometria: event_type under 32 characters.
constexpr std::size_t kMaxEventTypeLength = 31;

Error fault(std::string_view field, std::string reason) { return Error{errc::instrumentation, std::move(reason), std::string(field)}; }

bool non_empty_text(dom::element e) { return e.is_string() && !e.get_string().value_unsafe().empty(); }

std::optional<Error> check_field(dom::element record, const Required& rule) {
  const auto value = json::member(record, rule.field);
  if (!value || value->is_null()) return fault(rule.field, "is required");
  switch (rule.kind) {
    case Kind::text:
      if (!non_empty_text(*value)) return fault(rule.field, "expected a non-empty string");
      break;
    case Kind::number:
      if (!value->is_number()) return fault(rule.field, "expected a number");
      break;
    case Kind::iso_time:
      if (!value->is_string() || !validate::is_iso8601_datetime(value->get_string().value_unsafe()))
        return fault(rule.field, "expected an ISO-8601 date-time such as \"2024-05-01T10:00:00Z\"");
      break;
  }
  return std::nullopt;
}

}  // namespace

Expected<CheckedRecord> check_record(std::string_view json) {
  // One parser per thread: the check is called for every record of an import.
  thread_local dom::parser parser;
  dom::element record;
  if (auto error = parser.parse(json.data(), json.size()).get(record); error)
    return tl::unexpected(fault("", std::string("not valid JSON: ") + simdjson::error_message(error)));
  if (!record.is_object()) return tl::unexpected(fault("", "expected a JSON object (one record per line)"));

  const auto type_value = json::member(record, "@type");
  if (!type_value) return tl::unexpected(fault("@type", "is required (contact, order, product or custom_event)"));
  std::optional<ometria::RecordType> type;
  if (type_value->is_string()) type = ometria::record_type_from(type_value->get_string().value_unsafe());
  if (!type) return tl::unexpected(fault("@type", "expected one of contact, order, product, custom_event"));

  const auto id = json::member(record, "id");
  const bool id_ok = id && (non_empty_text(*id) || id->is_int64() || id->is_uint64());
  if (!id_ok) return tl::unexpected(fault("id", id ? "expected a non-empty string or an integer" : "is required"));

  for (const auto& rules : kRules) {
    if (rules.type != *type) continue;
    for (const auto& rule : rules.required)
      if (auto wrong = check_field(record, rule)) return tl::unexpected(std::move(*wrong));
  }
  if (*type == ometria::RecordType::custom_event) {
    if (json::member(record, "event_type")->get_string().value_unsafe().size() > kMaxEventTypeLength)
      return tl::unexpected(fault("event_type", "must be under 32 characters"));
    bool identified = false;
    for (std::string_view field : kEventIdentities)
      if (auto v = json::member(record, field); v && (non_empty_text(*v) || v->is_number())) identified = true;
    if (!identified) return tl::unexpected(fault("identity_email", "a custom event needs identity_email, identity_account_id or profile_id"));
  }

  CheckedRecord checked{*type, simdjson::minify(record)};
  if (auto fits = ometria::check_record_size(checked.json.size()); !fits) return tl::unexpected(fault("", fits.error().message));
  return checked;
}

}  // namespace omt::import
