// The plan of an import, made by reading all of its input once before anything is enqueued: the records per
// type, every invalid row (the first max_listed_bad_rows kept, all counted), the estimated delivery time at the
// key's rate, and the backfill hazards of OMETRIA_RECORDS.md, each with the short name `--accept NAME` takes.
// decide() says whether the import may start. Pure: the time is passed in; never throws.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omt/import/item.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::import {

enum class Hazard : std::uint8_t {
  optin_without_timestamp,  // opted-in contacts without timestamp_subscribed: Ometria stamps "now", welcome flows fire
  one_optin_for_all,        // every contact carries the same opt-in: a configured default, opting everyone in (or out)
  old_custom_events,        // custom events older than four hours never enter an automation
};
inline constexpr Hazard all_hazards[] = {Hazard::optin_without_timestamp, Hazard::one_optin_for_all, Hazard::old_custom_events};
std::string_view hazard_name(Hazard hazard);         // "optin-without-timestamp", ...
std::string_view hazard_explanation(Hazard hazard);  // one sentence: what goes wrong
std::optional<Hazard> hazard_from(std::string_view name);

// The order of an import's passes: products, then contacts, then orders, then custom events (orders reference
// known products and profiles). A pass enqueues only records of its type.
inline constexpr ometria::RecordType pass_types[] = {ometria::RecordType::product, ometria::RecordType::contact,
                                                     ometria::RecordType::order, ometria::RecordType::custom_event};
inline constexpr std::size_t pass_count = std::size(pass_types);
std::size_t pass_of(ometria::RecordType type);

// Four hours (support.ometria.com, "How entry triggers work").
inline constexpr std::int64_t automation_window_ms = 4 * 3600 * 1000;
inline constexpr std::size_t max_listed_bad_rows = 20;

struct FoundHazard {
  Hazard hazard = Hazard::optin_without_timestamp;
  std::uint64_t records = 0;  // how many records it concerns
  std::string detail;         // what was found ("1,204 of 1,210 contacts are EXPLICITLY_OPTEDIN without ...")
  std::optional<SourcePlace> first;  // the first record it concerns
};

struct Plan {
  std::array<std::uint64_t, pass_count> records{};  // by pass (pass_types' order)
  std::uint64_t items = 0;    // events or records read
  std::uint64_t skipped = 0;  // events the source (or ingest's rules) does not send
  std::uint64_t bad_rows = 0;
  std::vector<BadRow> listed_bad_rows;  // the first max_listed_bad_rows
  std::vector<FoundHazard> hazards;     // in all_hazards' order
  std::uint64_t pushes = 0;             // at most 100 records of one type a push
  std::optional<double> delivery_seconds;  // pushes at the key's rate; nullopt: the rate is unlimited

  std::uint64_t total_records() const;
  std::uint64_t records_of(ometria::RecordType type) const { return records[pass_of(type)]; }
};

// Gathers a plan item by item, in reading order.
class PlanBuilder {
 public:
  explicit PlanBuilder(std::int64_t now_unix_ms) : now_(now_unix_ms) {}
  void add_record(ometria::RecordType type, std::string_view json, const SourcePlace& at);
  void add_skipped() { ++plan_.items, ++plan_.skipped; }
  void add_bad_row(BadRow row);
  // The plan, its delivery estimated at requests_per_second pushes a second (<= 0: unlimited).
  Plan finish(double requests_per_second, std::size_t records_per_push) const;

 private:
  std::int64_t now_;
  Plan plan_;
  // Contacts and their opt-ins; opted-in contacts without timestamp_subscribed; old custom events.
  std::uint64_t contacts_ = 0, contacts_with_optin_ = 0;
  std::optional<std::string> common_optin_;
  bool optins_differ_ = false;
  std::optional<SourcePlace> first_contact_;
  std::uint64_t optin_without_timestamp_ = 0;
  std::optional<SourcePlace> first_optin_without_timestamp_;
  std::uint64_t custom_events_ = 0, old_custom_events_ = 0;
  std::optional<SourcePlace> first_old_custom_event_;
};

struct Decision {
  bool may_start = false;
  std::vector<std::string> refusals;  // why not, one line each, with what to pass to go ahead
};
// Refused when there are more bad rows than max_bad_records allows, or a hazard not accepted.
Decision decide(const Plan& plan, const std::vector<Hazard>& accepted, std::uint64_t max_bad_records);

// The plan as the terminal shows it (several lines, ending in a newline); `where` names the files or folder.
std::string format_plan(const Plan& plan, std::string_view where);
// "1h 23m", "4m 05s", "12s"
std::string format_duration(double seconds);
// "1,234,567"
std::string with_commas(std::uint64_t n);
// A count in at most five columns, for the compact progress line: as it is below ten thousand, else rounded to
// three digits and k or M ("10.0k", "400k", "1.20M", "120M"); from 999,500,000 on, whole millions ("1000M").
std::string short_count(std::uint64_t n);

}  // namespace omt::import
