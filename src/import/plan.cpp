// The plan and its hazards. Records are looked into only where a hazard needs it (contacts, custom events).
#include "omt/import/plan.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "json/member.hpp"
#include "omt/protocol/gateway_stamp.hpp"

namespace omt::import {
namespace {

struct HazardText {
  Hazard hazard;
  std::string_view name;
  std::string_view explanation;
};

const HazardText kHazards[] = {
    {Hazard::optin_without_timestamp, "optin-without-timestamp",
     "Ometria stamps an opt-in without timestamp_subscribed with the time it arrives, which can send welcome "
     "campaigns to contacts who subscribed long ago"},
    {Hazard::one_optin_for_all, "one-optin-for-all",
     "every contact carries the same opt-in, as a configured default would give them: the import would opt every "
     "contact in (or out), over what each chose"},
    {Hazard::old_custom_events, "old-custom-events",
     "custom events more than four hours old never enter a contact into an automation flow: they are history only"},
};

std::string place(const SourcePlace& at) { return at.file + ":" + std::to_string(at.line); }

}  // namespace

std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string short_count(std::uint64_t n) {
  if (n < 10'000) return std::to_string(n);
  // Rounded in integers to the first step that leaves three digits, so that a count just below a step shows as
  // the next one (99,950 is "100k", 999,500 is "1.00M") and never with a fourth digit ("100.0k", "1000k").
  struct Step {
    std::uint64_t per_digit;  // what one unit of the last digit shown is worth
    int decimals;
    char unit;
  };
  constexpr Step steps[] = {{100, 1, 'k'}, {1'000, 0, 'k'}, {10'000, 2, 'M'}, {100'000, 1, 'M'}, {1'000'000, 0, 'M'}};
  for (const auto& step : steps) {
    const std::uint64_t digits = n / step.per_digit + (n % step.per_digit >= step.per_digit / 2 ? 1 : 0);
    const bool last = &step == &steps[std::size(steps) - 1];
    if (digits < 1000 || last) {
      std::string text = std::to_string(digits);
      if (step.decimals > 0) text.insert(text.size() - static_cast<std::size_t>(step.decimals), ".");
      return text + step.unit;
    }
  }
  return {};  // not reached: the last step always answers
}

std::string_view hazard_name(Hazard hazard) {
  for (const auto& h : kHazards)
    if (h.hazard == hazard) return h.name;
  return "";
}

std::string_view hazard_explanation(Hazard hazard) {
  for (const auto& h : kHazards)
    if (h.hazard == hazard) return h.explanation;
  return "";
}

std::optional<Hazard> hazard_from(std::string_view name) {
  for (const auto& h : kHazards)
    if (h.name == name) return h.hazard;
  return std::nullopt;
}

std::size_t pass_of(ometria::RecordType type) {
  for (std::size_t i = 0; i < pass_count; ++i)
    if (pass_types[i] == type) return i;
  return 0;
}

std::uint64_t Plan::total_records() const {
  std::uint64_t total = 0;
  for (auto n : records) total += n;
  return total;
}

void PlanBuilder::add_record(ometria::RecordType type, std::string_view json, const SourcePlace& at) {
  ++plan_.items;
  ++plan_.records[pass_of(type)];
  if (type != ometria::RecordType::contact && type != ometria::RecordType::custom_event) return;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element record;
  if (parser.parse(json.data(), json.size()).get(record) != simdjson::SUCCESS) return;  // checked before: cannot happen
  if (type == ometria::RecordType::contact) {
    ++contacts_;
    if (!first_contact_) first_contact_ = at;
    const auto optin = json::member(record, "marketing_optin");
    if (!optin || !optin->is_string()) {
      optins_differ_ = true;  // one without: no single value for all
      return;
    }
    const std::string_view value = optin->get_string().value_unsafe();
    ++contacts_with_optin_;
    if (!common_optin_) common_optin_ = std::string(value);
    else if (*common_optin_ != value) optins_differ_ = true;
    const auto subscribed = json::member(record, "timestamp_subscribed");
    const bool stamped = subscribed && subscribed->is_string() && !subscribed->get_string().value_unsafe().empty();
    if (value == "EXPLICITLY_OPTEDIN" && !stamped) {
      ++optin_without_timestamp_;
      if (!first_optin_without_timestamp_) first_optin_without_timestamp_ = at;
    }
    return;
  }
  ++custom_events_;
  const auto timestamp = json::member(record, "timestamp");
  if (!timestamp || !timestamp->is_string()) return;
  const auto when = protocol::parse_gateway_time(timestamp->get_string().value_unsafe());
  if (!when) return;
  if (when->seconds * 1000 < now_ - automation_window_ms) {
    ++old_custom_events_;
    if (!first_old_custom_event_) first_old_custom_event_ = at;
  }
}

void PlanBuilder::add_bad_row(BadRow row) {
  ++plan_.items;
  ++plan_.bad_rows;
  if (plan_.listed_bad_rows.size() < max_listed_bad_rows) plan_.listed_bad_rows.push_back(std::move(row));
}

Plan PlanBuilder::finish(double requests_per_second, std::size_t records_per_push) const {
  Plan plan = plan_;
  const std::uint64_t per_push = std::max<std::size_t>(records_per_push, 1);
  plan.pushes = 0;
  for (auto n : plan.records) plan.pushes += (n + per_push - 1) / per_push;
  if (requests_per_second > 0) plan.delivery_seconds = static_cast<double>(plan.pushes) / requests_per_second;
  if (optin_without_timestamp_ > 0) {
    plan.hazards.push_back({Hazard::optin_without_timestamp, optin_without_timestamp_,
                            with_commas(optin_without_timestamp_) + " of " + with_commas(contacts_) +
                                " contacts are EXPLICITLY_OPTEDIN without timestamp_subscribed",
                            first_optin_without_timestamp_});
  }
  if (contacts_ >= 2 && contacts_with_optin_ == contacts_ && !optins_differ_) {
    plan.hazards.push_back({Hazard::one_optin_for_all, contacts_,
                            "all " + with_commas(contacts_) + " contacts have marketing_optin " + *common_optin_,
                            first_contact_});
  }
  if (old_custom_events_ > 0) {
    plan.hazards.push_back({Hazard::old_custom_events, old_custom_events_,
                            with_commas(old_custom_events_) + " of " + with_commas(custom_events_) +
                                " custom events are more than four hours old",
                            first_old_custom_event_});
  }
  return plan;
}

Decision decide(const Plan& plan, const std::vector<Hazard>& accepted, std::uint64_t max_bad_records) {
  Decision d;
  if (plan.bad_rows > max_bad_records) {
    d.refusals.push_back(with_commas(plan.bad_rows) + " invalid row" + (plan.bad_rows == 1 ? "" : "s") +
                         " (at most " + with_commas(max_bad_records) +
                         " allowed): fix them, or pass --max-bad-records N to import without them");
  }
  for (const auto& found : plan.hazards) {
    if (std::find(accepted.begin(), accepted.end(), found.hazard) != accepted.end()) continue;
    d.refusals.push_back("hazard " + std::string(hazard_name(found.hazard)) + ": " + found.detail +
                         "; pass --accept " + std::string(hazard_name(found.hazard)) + " to import anyway");
  }
  d.may_start = d.refusals.empty();
  return d;
}

std::string format_duration(double seconds) {
  const auto total = static_cast<std::uint64_t>(std::llround(std::max(seconds, 0.0)));
  const std::uint64_t h = total / 3600, m = total % 3600 / 60, s = total % 60;
  char text[64];
  if (h > 0) std::snprintf(text, sizeof text, "%lluh %02llum", static_cast<unsigned long long>(h), static_cast<unsigned long long>(m));
  else if (m > 0) std::snprintf(text, sizeof text, "%llum %02llus", static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
  else std::snprintf(text, sizeof text, "%llus", static_cast<unsigned long long>(s));
  return text;
}

std::string format_plan(const Plan& plan, std::string_view where) {
  std::string out = "Import plan for " + std::string(where) + "\n";
  out += "  read:      " + with_commas(plan.items) + " items";
  if (plan.skipped > 0) out += " (" + with_commas(plan.skipped) + " skipped: not sent for this source)";
  out += "\n  records:   " + with_commas(plan.total_records()) + " in passes of one type, in this order:";
  for (std::size_t i = 0; i < pass_count; ++i)
    out += std::string(i ? "," : "") + " " + with_commas(plan.records[i]) + " " + std::string(ometria::to_string(pass_types[i]));
  out += "\n  delivery:  " + with_commas(plan.pushes) + " pushes, ";
  out += plan.delivery_seconds ? "about " + format_duration(*plan.delivery_seconds) + " at the key's rate (live traffic first)"
                               : std::string("at no rate limit");
  out += "\n  invalid:   " + with_commas(plan.bad_rows) + " row" + (plan.bad_rows == 1 ? "" : "s") + "\n";
  for (const auto& row : plan.listed_bad_rows)
    out += "    " + place(row.at) + ": " + (row.field.empty() ? "" : row.field + ": ") + row.reason + "\n";
  if (plan.bad_rows > plan.listed_bad_rows.size())
    out += "    ... and " + with_commas(plan.bad_rows - plan.listed_bad_rows.size()) + " more\n";
  out += "  hazards:   " + (plan.hazards.empty() ? std::string("none") : std::to_string(plan.hazards.size())) + "\n";
  for (const auto& h : plan.hazards) {
    out += "    " + std::string(hazard_name(h.hazard)) + ": " + h.detail;
    if (h.first) out += " (first at " + place(*h.first) + ")";
    out += "\n      " + std::string(hazard_explanation(h.hazard)) + "\n";
  }
  return out;
}

}  // namespace omt::import
