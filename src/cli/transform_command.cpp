// `ometria-transformer transform [FILE|-]`: events in (one JSON object, a JSON array, or JSON Lines, detected),
// one JSON line per event out: the Ometria record, or {"index":N,"error":"..."}. JSON Lines are streamed, so a
// file of any size is transformed in constant memory. `--format rudder` reads a processor request body and
// writes the processor response. Exit 0: every event transformed; 1: some failed; 2: unusable input or options.
#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/cli_errors.hpp"
#include "cli/commands.hpp"
#include "cli/mappings_location.hpp"
#include "omt/config/destination.hpp"
#include "omt/core/text.hpp"
#include "omt/ometria/transformer.hpp"
#include "json/out_value.hpp"
#include "omt/protocol/rudder.hpp"
#include "protocol/json_body.hpp"

namespace omt::cli {
namespace {

constexpr std::size_t max_document_bytes = std::size_t{1} << 30;  // a whole array / object input
constexpr std::size_t max_line_bytes = 64u << 20;                  // one JSON Lines event

struct TransformOptions {
  std::string input = "-";
  std::string destination_config;
  std::string format = "ometria";
  std::string mappings;
};

// Reads from a FILE* in blocks; lines longer than the cap are reported, not stored.
class LineReader {
 public:
  explicit LineReader(std::FILE* in) : in_(in) {}
  // false at end of input. `too_long` is set when the line was cut.
  bool next(std::string& line, bool& too_long) {
    line.clear();
    too_long = false;
    bool any = false;
    while (true) {
      if (pos_ == len_) {
        len_ = std::fread(buf_, 1, sizeof buf_, in_);
        pos_ = 0;
        if (len_ == 0) return any;
      }
      any = true;
      const char* start = buf_ + pos_;
      const auto* nl = static_cast<const char*>(std::memchr(start, '\n', len_ - pos_));
      const std::size_t n = nl ? static_cast<std::size_t>(nl - start) : len_ - pos_;
      if (line.size() + n <= max_line_bytes) line.append(start, n);
      else too_long = true;
      pos_ += n + (nl ? 1 : 0);
      if (nl) return true;
    }
  }
  // Everything not yet consumed, appended to `out` (bounded).
  bool rest(std::string& out) {
    out.append(buf_ + pos_, len_ - pos_);
    pos_ = len_;
    char block[1 << 16];
    std::size_t n;
    while ((n = std::fread(block, 1, sizeof block, in_)) > 0) {
      if (out.size() + n > max_document_bytes) return false;
      out.append(block, n);
    }
    return true;
  }

 private:
  std::FILE* in_;
  char buf_[1 << 16];
  std::size_t pos_ = 0, len_ = 0;
};

void write_error_line(std::string& out, std::size_t index, std::string_view message) {
  out += "{\"index\":" + std::to_string(index) + ",\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  out += "\"}\n";
}

class Run {
 public:
  Run(const ometria::Transformer& transformer, ometria::DestinationConfig config)
      : transformer_(transformer), config_(std::move(config)) {}

  void event(simdjson::dom::element message) {
    auto record = transformer_.transform(message, config_);
    if (record) {
      out_ += record->json;
      out_ += '\n';
    } else {
      write_error_line(out_, index_, record.error().message);
      ++failed_;
    }
    ++index_;
    flush_if_full();
  }
  void error(std::string_view message) {
    write_error_line(out_, index_++, message);
    ++failed_;
    flush_if_full();
  }
  int finish() {
    flush();
    return failed_ ? 1 : 0;
  }

 private:
  void flush_if_full() {
    if (out_.size() > (1u << 20)) flush();
  }
  void flush() {
    std::fwrite(out_.data(), 1, out_.size(), stdout);
    std::fflush(stdout);
    out_.clear();
  }
  const ometria::Transformer& transformer_;
  ometria::DestinationConfig config_;
  std::string out_;
  std::size_t index_ = 0, failed_ = 0;
};

int usage_error(const std::string& message) { return fail("transform", message, exit_usage); }

int run_transform(const TransformOptions& options) {
  auto transformer = ometria::Transformer::load(mappings_location(options.mappings, "--mappings").directory);
  if (!transformer) return usage_error(transformer.error().message);

  std::FILE* in = stdin;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
  if (options.input != "-") {
    file.reset(std::fopen(options.input.c_str(), "rb"));
    if (!file) return usage_error("cannot open " + options.input + ": " + std::strerror(errno));
    in = file.get();
  }
  LineReader reader(in);

  if (options.format == "rudder") {
    std::string body;
    if (!reader.rest(body)) return usage_error("input larger than 1 GiB");
    const auto reply = protocol::processor_transform(body, *transformer);
    if (reply.status != 200) return usage_error(reply.body);
    std::fwrite(reply.body.data(), 1, reply.body.size(), stdout);
    std::fputc('\n', stdout);
    return reply.body.find("\"statusCode\":200") != std::string::npos &&
                   reply.body.find("\"error\":") == std::string::npos
               ? 0
               : 1;
  }

  if (options.destination_config.empty())
    return usage_error("--destination-config FILE is required (a JSON object with apiKey, marketingOptin, ...)");
  auto config = config::read_destination_config(options.destination_config);
  if (!config) return usage_error("--destination-config: " + config.error().message);

  Run run(*transformer, std::move(*config));
  simdjson::dom::parser parser;
  std::string line;
  bool too_long = false;
  // Find the first non-empty line to detect the input's shape.
  bool have_line = false;
  while ((have_line = reader.next(line, too_long)))
    if (!text::trim(line).empty() || too_long) break;
  if (!have_line) return usage_error("no input");
  std::string_view first = text::trim(line);
  if (first.size() >= 3 && first.substr(0, 3) == "\xEF\xBB\xBF") first = text::trim(first.substr(3));  // BOM

  simdjson::dom::element element;
  const bool first_line_is_object =
      !too_long && !first.empty() && first.front() == '{' && parser.parse(first.data(), first.size()).get(element) == simdjson::SUCCESS;
  if (first_line_is_object) {
    // JSON Lines (or a single one-line object): stream line by line.
    run.event(element);
    while (reader.next(line, too_long)) {
      const std::string_view text = omt::text::trim(line);
      if (too_long) {
        run.error("line longer than 64 MiB");
        continue;
      }
      if (text.empty()) continue;
      if (const auto code = parser.parse(text.data(), text.size()).get(element); code != simdjson::SUCCESS) {
        run.error(protocol::describe_json_error(text, code));
        continue;
      }
      if (!element.is_object()) {
        run.error("each line must hold one event object");
        continue;
      }
      run.event(element);
    }
    return run.finish();
  }

  if (first.empty() || (first.front() != '[' && first.front() != '{'))
    return usage_error("input is not JSON: expected one event object, an array of events, or JSON Lines");
  std::string document(first);
  document += '\n';
  if (!reader.rest(document)) return usage_error("input larger than 1 GiB");
  if (const auto code = parser.parse(document).get(element); code != simdjson::SUCCESS)
    return usage_error(protocol::describe_json_error(document, code));
  if (element.is_object()) {
    run.event(element);
  } else {
    for (simdjson::dom::element item : json::as_array(element)) {
      if (!item.is_object()) {
        run.error("each array item must be an event object");
        continue;
      }
      run.event(item);
    }
  }
  return run.finish();
}

}  // namespace

void add_transform_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<TransformOptions>();
  auto* cmd = app.add_subcommand("transform", "Transform events (JSON object, array or JSON Lines) to Ometria records");
  cmd->add_option("input", options->input, "Input file, or - for standard input")->capture_default_str();
  cmd->add_option("--destination-config", options->destination_config,
                  "Required with --format ometria (the default; not used with --format rudder): JSON file with the "
                  "destination settings, as RudderStack's Ometria destination has them (its Config, or the whole "
                  "destination): apiKey (required), marketingOptin (EXPLICITLY_OPTEDIN, EXPLICITLY_OPTEDOUT or "
                  "NOT_SPECIFIED), allowMarketing and allowTransactional (true or false); any other key is an error")
      ->type_name("FILE");
  cmd->add_option("--format", options->format, "ometria: events in, records out; rudder: processor request in, response out")
      ->check(CLI::IsMember({"ometria", "rudder"}))
      ->capture_default_str();
  cmd->add_option("--mappings", options->mappings, "Directory of mapping tables (default: OMT_MAPPINGS_DIR, else the tables installed with the binary)");
  cmd->footer(exit_status_footer("some events did not transform (each has its {\"index\":N,\"error\":...} line)"));
  cmd->callback([options, &exit_code] { exit_code = run_transform(*options); });
}

}  // namespace omt::cli
