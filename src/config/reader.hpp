// Internal to src/config/: typed, key-checking reads from the config JSON tree. Every read names its full
// dotted key in errors; the first error wins and is reported by validate(). Each section reader marks the keys
// it knows; done() turns any other key into "unknown key" so a typo is a start-up error, not a silent default.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "omt/config/config.hpp"

struct omt::config::RawConfig::Tree {
  nlohmann::json json = nlohmann::json::object();
  // Where each overridden value came from, by dotted key ("server.threads" -> "OMT_SERVER_THREADS=abc");
  // a key that is not here (nor under a key that is) came from the file.
  std::map<std::string, std::string, std::less<>> origins;
};

namespace omt::config::detail {

// "sources[0].api_key" is under "sources", "server.threads" at "server.threads"; "server.threadsx" is neither.
bool is_at_or_under(std::string_view path, std::string_view key);

// Sets the value at a dotted key (creating the objects on the way) and records where it came from (empty: the
// file); the origins of keys under it go, as their values do.
void set_at(RawConfig::Tree& tree, std::string_view dotted_key, nlohmann::json value, std::string origin);

struct ReadContext {
  std::string source;  // the file's name: errors of values from the file start with it
  std::optional<Error> first_error;
  std::vector<std::string>* asked = nullptr;  // when set, every dotted key a reader asks for is recorded
  const std::map<std::string, std::string, std::less<>>* origins = nullptr;  // RawConfig::Tree::origins
};

// What an error at `dotted_path` starts with: the origin of the value there or of the nearest key above it
// that was overridden ("sources" covers "sources[0].api_key"), else the file's name.
std::string origin_of(const ReadContext& context, std::string_view dotted_path);

class ObjectReader {
 public:
  // object may be null (the section is absent: every read keeps its default).
  ObjectReader(ReadContext& context, const nlohmann::json* object, std::string path);

  // Each read leaves `out` untouched when the key is absent.
  void string(std::string_view key, std::string& out);
  void string_in(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed);
  void boolean(std::string_view key, bool& out);
  void integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
  template <class Unsigned>
  void unsigned_integer(std::string_view key, Unsigned& out, std::int64_t min, std::int64_t max) {
    std::int64_t v = static_cast<std::int64_t>(out);
    integer(key, v, min, max);
    out = static_cast<Unsigned>(v);
  }
  void duration(std::string_view key, std::chrono::milliseconds& out, std::chrono::milliseconds min,
                std::chrono::milliseconds max);
  void size(std::string_view key, std::size_t& out, std::size_t min, std::size_t max);
  void host_port(std::string_view key, std::string& host, std::uint16_t& port);
  void path(std::string_view key, std::filesystem::path& out);
  void number(std::string_view key, double& out, double min, double max);
  // A string, or {"env": "NAME"}: the value of that environment variable (which must be set and non-empty).
  void secret(std::string_view key, std::string& out);

  // A nested object (absent: a reader over nothing). Its own done() must be called.
  ObjectReader object(std::string_view key);
  // Reports keys that no read asked for.
  void done();
  // The keys no read asked for, in the object's order (for a caller that words the error itself).
  std::vector<std::string> unknown_keys() const;

  void error(std::string_view key, std::string message);
  std::string key_path(std::string_view key) const;
  const nlohmann::json* find(std::string_view key);  // marks the key as known
  ReadContext& context() { return context_; }

 private:
  ReadContext& context_;
  const nlohmann::json* object_;
  std::string path_;
  std::vector<std::string> known_;
};

// One reader per top-level section; validate() calls them in table order.
void read_server_section(ObjectReader& section, Config& config);
void read_log_section(ObjectReader& section, Config& config);
void read_queue_section(ObjectReader& section, Config& config);
void read_ometria_section(ObjectReader& section, Config& config);
void read_delivery_section(ObjectReader& section, Config& config);
void read_ingest_section(ObjectReader& section, Config& config);
void read_import_section(ObjectReader& section, Config& config);
void read_sources(ObjectReader& root, Config& config);

// The destination settings, one set of rules under two spellings: a source's ("api_key", in the config file)
// and RudderStack's destination Config's ("apiKey", transform's --destination-config).
struct DestinationKeys {
  std::string_view api_key, marketing_optin, allow_marketing, allow_transactional;
  std::string_view collection;  // empty: not settable in this spelling
};
inline constexpr DestinationKeys source_destination_keys{"api_key", "marketing_optin", "allow_marketing",
                                                         "allow_transactional", "collection"};
inline constexpr DestinationKeys rudder_destination_keys{"apiKey", "marketingOptin", "allowMarketing",
                                                         "allowTransactional", {}};
void read_destination_settings(ObjectReader& reader, const DestinationKeys& keys, ometria::DestinationConfig& out);
// After done(): the API key is required.
void require_api_key(ObjectReader& reader, const DestinationKeys& keys, const ometria::DestinationConfig& settings);

// "line 3 column 7: syntax error while parsing object key" (nlohmann's description without the text it last
// read, which may hold a secret).
std::string describe_syntax_error(const nlohmann::json::parse_error& error, std::string_view text);

// The candidate nearest to `name` (case first, then at most a couple of typos), or empty when none is near.
std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace omt::config::detail
