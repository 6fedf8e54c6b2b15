// Internal to src/config/: typed, key-checking reads from the config JSON tree. Every read names its full
// dotted key in errors; the first error wins and is reported by validate(). Each section reader marks the keys
// it knows; done() turns any other key into "unknown key" so a typo is a start-up error, not a silent default.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "omt/config/config.hpp"

struct omt::config::RawConfig::Tree {
  nlohmann::json json = nlohmann::json::object();
};

namespace omt::config::detail {

struct ReadContext {
  std::string source;
  std::optional<Error> first_error;
  std::vector<std::string>* asked = nullptr;  // when set, every dotted key a reader asks for is recorded
};

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
void read_sources(ObjectReader& root, Config& config);

}  // namespace omt::config::detail
