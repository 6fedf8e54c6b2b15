#include "omt/net/response_head.hpp"

#include <array>
#include <charconv>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/status.hpp>

#include "omt/core/text.hpp"

namespace omt::net {

namespace http = boost::beast::http;

bool response_has_body(int status) { return !(status / 100 == 1 || status == 204 || status == 304); }

namespace {

void append_number(std::string& out, std::size_t n) {
  std::array<char, 24> digits{};
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), n).ptr;
  out.append(digits.data(), end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Beast's set(name, value): every earlier field of that name goes, the new one goes last.
template <class Fields>
void set(Fields& fields, std::string_view name, std::string_view value) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!text::iequals(fields[i].first, name)) fields[kept++] = fields[i];
  }
  fields.resize(kept);
  fields.emplace_back(name, value);
}

}  // namespace

void append_response_head(std::string& out, const Response& response, unsigned version, bool keep_alive) {
  const bool has_body = response_has_body(response.status);
  out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  append_number(out, static_cast<std::size_t>(response.status));
  out.push_back(' ');
  const auto reason = http::obsolete_reason(static_cast<http::status>(response.status));
  out.append(reason.data(), reason.size());
  out.append("\r\n");

  // Few fields: a small vector and linear scans beat any map here.
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  fields.reserve(response.headers.size() + 3);
  if (response.status != 204) fields.emplace_back("Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (text::iequals(name, "Connection") || text::iequals(name, "Content-Length")) continue;
    set(fields, name, value);
  }
  if (version >= 11 && !keep_alive) fields.emplace_back("Connection", "close");
  if (version < 11 && keep_alive) fields.emplace_back("Connection", "keep-alive");
  for (const auto& [name, value] : fields) append_field(out, name, value);
  // Beast 1.74's prepare_payload() names the length even of a 204 (Content-Length: 0).
  out.append("Content-Length: ");
  append_number(out, has_body ? response.body.size() : 0);
  out.append("\r\n\r\n");
}

}  // namespace omt::net
