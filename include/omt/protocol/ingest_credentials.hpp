// Who is sending to an ingest route: a configured source found by its write key (HTTP Basic) or webhook token
// (Bearer or ?token=), every secret compared in constant time. The messages of a refusal say which credential
// the route expects, never the one received. Pure; never throws.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/protocol/ingest_route.hpp"

namespace omt::protocol {

// True when a == b. Both are hashed (SHA-256) and the digests compared with CRYPTO_memcmp, so the time taken
// depends on neither the contents nor the length of the secret.
bool constant_time_equal(std::string_view a, std::string_view b);

// "Basic base64(user:password)" -> user (the password is ignored: the write key is the user name).
// nullopt when the header is not Basic or the base64 is malformed.
std::optional<std::string> basic_auth_user(std::string_view authorization_header);
// "Bearer <token>" -> token (scheme case-insensitive); nullopt otherwise.
std::optional<std::string_view> bearer_token(std::string_view authorization_header);
// The first value of `name` in the request target's query ("/v1/webhook?token=a%2Bb" -> "a+b"), percent-decoded
// with '+' as space; nullopt when absent.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

// The configured sources, looked up by secret. Every lookup compares against every source's secret (digest
// against digest, no early exit), so how long it takes says nothing about which secret, or how much of it,
// matched. Empty secrets never match.
class SourceDirectory {
 public:
  explicit SourceDirectory(std::vector<config::SourceConfig> sources);

  const config::SourceConfig* by_write_key(std::string_view write_key) const;
  const config::SourceConfig* by_webhook_token(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    config::SourceConfig source;
    std::optional<Digest> write_key;
    std::optional<Digest> webhook_token;
  };
  const config::SourceConfig* find(std::string_view secret, std::optional<Digest> Entry::*which) const;
  std::vector<Entry> entries_;
};

// The source that sent a request: for the webhook, "Authorization: Bearer <token>" or ?token=<token>; for the
// HTTP API routes, HTTP Basic with the write key as user name; for the beacon, ?writeKey=<write key>.
// errc::unauthorized (401) when the credential is missing or unknown; the message says which credential the
// route expects, never the one received.
Expected<const config::SourceConfig*> authenticate(IngestRoute route, const SourceDirectory& sources,
                                                   std::string_view authorization_header, std::string_view target);

}  // namespace omt::protocol
