#include "omt/protocol/ingest_credentials.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "omt/core/text.hpp"

namespace omt::protocol {

namespace {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view text) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

// CRYPTO_memcmp over fixed-length digests: no early exit, no dependence on the secret's length.
bool digests_equal(const Digest& a, const Digest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

// "<scheme> <credentials>" -> credentials when the scheme matches (case-insensitively).
std::optional<std::string_view> credentials_of(std::string_view header, std::string_view scheme) {
  header = text::trim(header);
  const auto space = header.find(' ');
  if (space == std::string_view::npos || !text::iequals(header.substr(0, space), scheme)) return std::nullopt;
  return text::trim(header.substr(space + 1));
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Standard base64; padding optional. nullopt on any other character.
std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return out;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) { return digests_equal(sha256(a), sha256(b)); }

std::optional<std::string> basic_auth_user(std::string_view authorization_header) {
  const auto encoded = credentials_of(authorization_header, "Basic");
  if (!encoded) return std::nullopt;
  auto decoded = base64_decode(*encoded);
  if (!decoded) return std::nullopt;
  // "user:password"; a colon-less value is taken as the user name alone.
  if (const auto colon = decoded->find(':'); colon != std::string::npos) decoded->resize(colon);
  return decoded;
}

std::optional<std::string_view> bearer_token(std::string_view authorization_header) {
  return credentials_of(authorization_header, "Bearer");
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  if (const auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (text::percent_decode(pair.substr(0, eq), true) != name) continue;
    return eq == std::string_view::npos ? std::string{} : text::percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

SourceDirectory::SourceDirectory(std::vector<config::SourceConfig> sources) {
  entries_.reserve(sources.size());
  for (auto& source : sources) {
    Entry entry;
    if (!source.write_key.empty()) entry.write_key = sha256(source.write_key);
    if (!source.webhook_token.empty()) entry.webhook_token = sha256(source.webhook_token);
    entry.source = std::move(source);
    entries_.push_back(std::move(entry));
  }
}

const config::SourceConfig* SourceDirectory::find(std::string_view secret,
                                                  std::optional<Digest> Entry::*which) const {
  if (secret.empty()) return nullptr;
  const Digest presented = sha256(secret);
  const config::SourceConfig* found = nullptr;
  // No early exit: every source is compared, whichever matches.
  for (const auto& entry : entries_) {
    const auto& stored = entry.*which;
    if (stored && digests_equal(*stored, presented)) found = &entry.source;
  }
  return found;
}

const config::SourceConfig* SourceDirectory::by_write_key(std::string_view write_key) const {
  return find(write_key, &Entry::write_key);
}

const config::SourceConfig* SourceDirectory::by_webhook_token(std::string_view token) const {
  return find(token, &Entry::webhook_token);
}

Expected<const config::SourceConfig*> authenticate(IngestRoute route, const SourceDirectory& sources,
                                                   std::string_view authorization_header, std::string_view target) {
  if (route == IngestRoute::beacon) {
    // navigator.sendBeacon sets no headers: the write key comes in the query.
    const auto key = query_parameter(target, "writeKey");
    if (!key || key->empty()) return fail(errc::unauthorized, "Authentication required: ?writeKey=<the source's write key>");
    if (const auto* source = sources.by_write_key(*key)) return source;
    return fail(errc::unauthorized, "Unknown write key");
  }
  if (uses_write_key(route)) {
    const auto user = basic_auth_user(authorization_header);
    if (!user || user->empty())
      return fail(errc::unauthorized, "Authentication required: HTTP Basic with the source's write key as user name");
    if (const auto* source = sources.by_write_key(*user)) return source;
    return fail(errc::unauthorized, "Unknown write key");
  }
  std::optional<std::string> token;
  if (const auto bearer = bearer_token(authorization_header)) token = std::string(*bearer);
  else token = query_parameter(target, "token");
  if (!token || token->empty())
    return fail(errc::unauthorized,
                "Authentication required: \"Authorization: Bearer <webhook token>\" or ?token=<webhook token>");
  if (const auto* source = sources.by_webhook_token(*token)) return source;
  return fail(errc::unauthorized, "Unknown webhook token");
}

}  // namespace omt::protocol
