// `ometria-transformer requests [--config FILE | --queue PATH] [--source NAME] [--since TIME] [--status CODE]
// [--limit N] [--oldest-first] [--json]`: the request log (seed 004's "Export Requests Log"), every push delivery
// made, live or backfill, with what became of it, as the service logged it. Newest first; a table, or JSON lines.
// Keys are shown as the fingerprints the log keeps (never in clear).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/queue_cli.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::cli {

namespace {

constexpr std::string_view kCommand = "requests";

// Read a page at a time: each read holds the queue's write lock (as every operator read does) only briefly, beside
// a running service.
constexpr std::size_t entries_per_page = 1000;

struct RequestsArgs {
  QueueLocation where;
  std::string source;
  std::string since;
  std::string status;
  std::int64_t limit = 100;
  bool oldest_first = false;
  bool json = false;
};

// "202", "0" (no answer), or a class "4xx": the statuses selected, both ends included.
Expected<std::pair<int, int>> parse_status(std::string_view text) {
  const auto bad = [&] {
    return fail(errc::invalid_request, "expected an HTTP status (202, 429), a class of them (4xx) or 0 (no answer: "
                                       "timeouts, refused connections), got \"" + std::string(text) + "\"");
  };
  if (text.size() == 3 && text[0] >= '1' && text[0] <= '5' && (text[1] == 'x' || text[1] == 'X') &&
      (text[2] == 'x' || text[2] == 'X')) {
    const int hundreds = (text[0] - '0') * 100;
    return std::pair{hundreds, hundreds + 99};
  }
  if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad();
  const int code = std::stoi(std::string(text));
  if (code != 0 && (code < 100 || code > 599)) return bad();
  return std::pair{code, code};
}

Expected<queue::RequestLogSelection> selection_of(const RequestsArgs& args) {
  queue::RequestLogSelection which;
  which.newest_first = !args.oldest_first;
  which.source = args.source;
  if (!args.since.empty()) {
    auto since = parse_point_in_time(args.since, unix_millis_now());
    if (!since) return fail(errc::invalid_request, "--since: " + since.error().message);
    which.since = *since;
  }
  if (!args.status.empty()) {
    auto status = parse_status(args.status);
    if (!status) return fail(errc::invalid_request, "--status: " + status.error().message);
    which.status_from = status->first;
    which.status_to = status->second;
  }
  return which;
}

// Status as the table shows it: the code, or for no answer why ("timeout", "connect").
std::string status_text(const queue::RequestLogEntry& e) {
  if (e.status != 0) return std::to_string(e.status);
  return e.failure.empty() ? std::string("no answer") : e.failure;
}

// In the table's order (ordered_json), so that a line reads as a row does.
nlohmann::ordered_json json_of(const queue::LoggedRequest& r) {
  using nlohmann::ordered_json;
  const auto& e = r.entry;
  const auto number = [](const std::optional<std::int64_t>& n) { return n ? ordered_json(*n) : ordered_json(nullptr); };
  ordered_json line = {{"id", r.id},
                         {"time", iso8601_utc(e.at)},
                         {"source", e.source.empty() ? ordered_json(nullptr) : ordered_json(e.source)},
                         {"key", e.key_fingerprint},
                         {"type", ometria::to_string(e.type)},
                         {"lane", queue::lane_name(e.lane)},
                         {"records", e.records},
                         {"status", e.status}};
  if (e.status == 0) line["failure"] = e.failure;
  line["request_id"] = e.request_id ? ordered_json(*e.request_id) : ordered_json(nullptr);
  line["accepted"] = number(e.accepted);
  line["rejected"] = number(e.rejected);
  line["duration_ms"] = e.duration_ms;
  return line;
}

// One table row's cells, in the order of kHeader.
std::vector<std::string> cells_of(const queue::RequestLogEntry& e) {
  const auto number = [](const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : std::string("-"); };
  return {iso8601_utc(e.at),
          e.source.empty() ? std::string("-") : e.source,
          e.key_fingerprint,
          std::string(ometria::to_string(e.type)),
          std::string(queue::lane_name(e.lane)),
          std::to_string(e.records),
          status_text(e),
          e.request_id.value_or("-"),
          number(e.accepted),
          number(e.rejected),
          std::to_string(e.duration_ms)};
}

const std::vector<std::string> kHeader = {"TIME", "SOURCE", "KEY", "TYPE", "LANE", "RECORDS", "STATUS", "REQUEST_ID",
                                          "ACCEPTED", "REJECTED", "MS"};

// Columns as wide as their widest cell, two spaces apart; numbers right-aligned.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(kHeader.size());
  for (std::size_t c = 0; c < kHeader.size(); ++c) width[c] = kHeader[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  const auto right_aligned = [](std::size_t column) { return column == 5 || column >= 8; };
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      line += right_aligned(c) ? pad + row[c] : (c + 1 == row.size() ? row[c] : row[c] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print_row(kHeader);
  for (const auto& row : rows) print_row(row);
}

int run_requests(const RequestsArgs& args) {
  auto which = selection_of(args);
  if (!which) return fail(kCommand, which.error().message, exit_usage);
  auto target = resolve_queue(args.where);
  if (!target) return fail(kCommand, target.error().message, exit_usage);
  auto q = open_queue_for_operator(*target);
  if (!q) return report_error(kCommand, q.error());
  queue::RequestLog* log = (*q)->request_log();
  const std::size_t limit = static_cast<std::size_t>(args.limit);
  std::vector<std::vector<std::string>> rows;  // the table is printed once its widths are known
  std::size_t seen = 0;
  for (;;) {
    which->limit = limit == 0 ? entries_per_page : std::min(entries_per_page, limit - seen);
    if (which->limit == 0) break;
    auto page = log->logged_requests(*which);
    if (!page) return report_error(kCommand, page.error());
    if (page->empty()) break;
    seen += page->size();
    which->after_id = page->back().id;
    for (const auto& r : *page) {
      if (args.json) std::cout << json_of(r).dump() << "\n";
      else rows.push_back(cells_of(r.entry));
    }
  }
  if (!args.json) print_table(rows);
  return exit_ok;
}

}  // namespace

void add_requests_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RequestsArgs>();
  auto* cmd = app.add_subcommand(
      "requests",
      "List the pushes made to Ometria and what became of each (the request log), newest first");

  add_queue_location_options(*cmd, args->where);
  cmd->add_option("--source", args->source, "Only the pushes of this source (its name in the configuration)");
  cmd->add_option("--since", args->since,
                  "Only the pushes at or after this time (2026-12-01T14:00:00Z, 2026-12-01, or 2h ago)");
  cmd->add_option("--status", args->status,
                  "Only the pushes answered with this HTTP status (202), a class of them (4xx), or 0: no answer "
                  "(a timeout, a refused connection)");
  cmd->add_option("--limit", args->limit, "At most this many (default 100; 0 = all)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000'000}));
  cmd->add_flag("--oldest-first", args->oldest_first, "Oldest first instead");
  cmd->add_flag("--json", args->json, "One JSON object per line instead of a table");
  cmd->footer(
      "Every push delivery made, live or backfill, as the service logged it: time, source, key fingerprint, record "
      "type, lane, records, HTTP status (0: no answer, the failure named), Ometria's request_id, accepted and "
      "rejected, duration. The log keeps the last queue.max_request_log pushes (default 100000).\n" +
      exit_status_footer("the queue could not be read"));
  cmd->callback([args, &exit_code] { exit_code = run_requests(*args); });
}

}  // namespace omt::cli
