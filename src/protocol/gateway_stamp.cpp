// The gateway's stamps. The rules are rudder-server's (gateway/handle.go getJobDataFromRequest; processor/
// processor.go enhanceWithTimeFields; utils/misc/misc.go GetParsedTimestamp, GetChronologicalTimeStamp,
// RFC3339Milli), except where docs/ingest.md says why not.
#include "omt/protocol/gateway_stamp.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <vector>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "omt/core/text.hpp"
#include "protocol/batch_merge_internal.hpp"

namespace omt::protocol {

namespace {

namespace chrono = std::chrono;
__extension__ typedef __int128 Nanos;  // wide enough for any two times of years 0000..9999 and their difference
constexpr Nanos nanos_per_second = 1'000'000'000;

// ---- time text ----------------------------------------------------------------------------------------------

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// n digits at s[pos...] as a number; false when they are not all there.
bool read_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size() || !all_digits(s.substr(pos, n))) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) out = out * 10 + (s[i] - '0');
  return true;
}

std::optional<std::int64_t> days_of(int year, int month, int day) {
  const chrono::year_month_day date{chrono::year(year), chrono::month(static_cast<unsigned>(month)),
                                    chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  return chrono::sys_days(date).time_since_epoch().count();
}

GatewayTime from_nanos(Nanos total, int offset_minutes) {
  Nanos seconds = total / nanos_per_second, rest = total % nanos_per_second;
  if (rest < 0) {
    rest += nanos_per_second;
    --seconds;
  }
  return GatewayTime{static_cast<std::int64_t>(seconds), static_cast<std::uint32_t>(rest), offset_minutes};
}

Nanos to_nanos(const GatewayTime& t) { return Nanos(t.seconds) * nanos_per_second + t.nanos; }

// Digits alone, read by their count as dateparse does (epoch values are UTC: time.Unix in a UTC container).
std::optional<GatewayTime> parse_digits(std::string_view s) {
  std::int64_t value = 0;
  if (s.size() == 10 || s.size() == 13 || s.size() == 16 || s.size() == 19) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    const Nanos scale = s.size() == 10 ? nanos_per_second : s.size() == 13 ? 1'000'000 : s.size() == 16 ? 1'000 : 1;
    return from_nanos(Nanos(value) * scale, 0);
  }
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  if (s.size() == 4) {
    read_digits(s, 0, 4, year);
  } else if (s.size() == 8 || s.size() == 14) {
    read_digits(s, 0, 4, year);
    read_digits(s, 4, 2, month);
    read_digits(s, 6, 2, day);
    if (s.size() == 14 && (!read_digits(s, 8, 2, hour) || !read_digits(s, 10, 2, minute) ||
                           !read_digits(s, 12, 2, second) || hour > 23 || minute > 59 || second > 59))
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  const auto days = days_of(year, month, day);
  if (!days) return std::nullopt;
  return GatewayTime{*days * 86'400 + hour * 3'600 + minute * 60 + second, 0, 0};
}

}  // namespace

std::optional<GatewayTime> parse_gateway_time(std::string_view s) {
  if (all_digits(s)) return parse_digits(s);
  // YYYY-MM-DD
  int year = 0, month = 0, day = 0;
  if (!read_digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !read_digits(s, 5, 2, month) || s[7] != '-' ||
      !read_digits(s, 8, 2, day))
    return std::nullopt;
  const auto days = days_of(year, month, day);
  if (!days) return std::nullopt;
  std::size_t pos = 10;
  int hour = 0, minute = 0, second = 0;
  std::uint32_t nanos = 0;
  int offset = 0;
  if (pos < s.size()) {
    // [T ]hh:mm[:ss[.fraction]]
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    if (!read_digits(s, pos + 1, 2, hour) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, minute))
      return std::nullopt;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!read_digits(s, pos + 1, 2, second)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        std::size_t digits = 0;
        ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 9) nanos = nanos * 10 + static_cast<std::uint32_t>(s[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0 || digits > 9) return std::nullopt;
        for (; digits < 9; ++digits) nanos *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    // [ ](Z|±hh[:mm]|±hhmm), or nothing: UTC
    if (pos < s.size() && s[pos] == ' ') ++pos;
    if (pos < s.size()) {
      if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
        pos = s.size();
      } else if (s[pos] == '+' || s[pos] == '-') {
        const int sign = s[pos] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!read_digits(s, pos + 1, 2, oh)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size() && !read_digits(s, pos, 2, om)) return std::nullopt;
        if (pos < s.size()) pos += 2;
        if (pos != s.size() || oh > 23 || om > 59) return std::nullopt;
        offset = sign * (oh * 60 + om);
      } else {
        return std::nullopt;
      }
    }
  }
  const std::int64_t local = *days * 86'400 + hour * 3'600 + minute * 60 + second;
  return GatewayTime{local - std::int64_t{offset} * 60, nanos, offset};
}

std::string format_gateway_time(const GatewayTime& time) {
  const std::int64_t local = time.seconds + std::int64_t{time.offset_minutes} * 60;
  std::int64_t days = local / 86'400, in_day = local % 86'400;
  if (in_day < 0) {
    in_day += 86'400;
    --days;
  }
  const chrono::year_month_day date{chrono::sys_days(chrono::days(days))};
  // By hand, not snprintf: this runs for several fields of every event.
  std::string out;
  out.reserve(29);
  auto digits = [&out](std::int64_t value, int width) {
    char buffer[20];
    int n = 0;
    do {
      buffer[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value > 0);
    for (; n < width; ++n) buffer[n] = '0';
    while (n > 0) out += buffer[--n];
  };
  const int year = static_cast<int>(date.year());
  if (year < 0) out += '-';
  digits(year < 0 ? -year : year, 4);
  out += '-';
  digits(static_cast<unsigned>(date.month()), 2);
  out += '-';
  digits(static_cast<unsigned>(date.day()), 2);
  out += 'T';
  digits(in_day / 3'600, 2);
  out += ':';
  digits(in_day / 60 % 60, 2);
  out += ':';
  digits(in_day % 60, 2);
  out += '.';
  digits(time.nanos / 1'000'000, 3);
  if (time.offset_minutes == 0) {
    out += 'Z';
  } else {
    out += time.offset_minutes < 0 ? '-' : '+';
    const int offset = time.offset_minutes < 0 ? -time.offset_minutes : time.offset_minutes;
    digits(offset / 60, 2);
    out += ':';
    digits(offset % 60, 2);
  }
  return out;
}

namespace {

// ---- client address ---------------------------------------------------------------------------------------------

bool trusted(const ip::Address& address, std::span<const ip::Network> networks) {
  for (const auto& network : networks)
    if (ip::contains(network, address)) return true;
  return false;
}

// An X-Forwarded-For entry: an address, "v4:port" or "[v6]:port".
std::optional<ip::Address> forwarded_address(std::string_view entry) {
  entry = text::trim(entry);
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return ip::parse_address(entry.substr(1, close - 1));
  }
  if (const auto colon = entry.find(':'); colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos)
    entry = entry.substr(0, colon);
  return ip::parse_address(entry);
}

// ---- messageId ----------------------------------------------------------------------------------------------------

// The namespace of generated messageIds (RFC 4122 version 5: SHA-1 of namespace and name).
constexpr std::array<unsigned char, 16> message_id_namespace = {0x0d, 0x53, 0x25, 0x55, 0xc3, 0x0d, 0x44, 0x94,
                                                                0xb0, 0xc0, 0xce, 0xb2, 0x78, 0x8a, 0xce, 0xf9};

std::string uuid_v5(std::string_view source, std::string_view event_text) {
  std::string name(message_id_namespace.begin(), message_id_namespace.end());
  name.append(source).append("\n").append(event_text);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

// ---- the event ----------------------------------------------------------------------------------------------------

std::string json_text(std::string_view s) {
  std::string out;
  json::write_string(out, s);
  return out;
}

std::optional<std::string_view> string_of(std::optional<dom::element> e) {
  if (!e || !e->is_string()) return std::nullopt;
  return e->get_string().value_unsafe();
}

bool absent_or_empty(std::optional<dom::element> e) {
  if (!e || e->is_null()) return true;
  const auto s = string_of(e);
  return s && text::trim(*s).empty();
}

// A key whose value the stamp sets (in place of its first occurrence, or added at the end), as JSON text.
struct Edit {
  std::string_view key;
  std::string value;
};

void set(std::vector<Edit>& edits, std::string_view key, std::string value) { edits.push_back({key, std::move(value)}); }

// The object's members with the edits applied: an edited key is written once, at its first place.
std::string with_edits(dom::element object, const std::vector<Edit>& edits) {
  std::string out = "{";
  std::vector<bool> written(edits.size(), false);
  bool first = true;
  auto write_key = [&](std::string_view key) {
    if (!first) out += ',';
    first = false;
    json::write_string(out, key);
    out += ':';
  };
  for (auto field : json::as_object(object)) {
    std::size_t k = 0;
    while (k < edits.size() && edits[k].key != field.key) ++k;
    if (k == edits.size()) {
      write_key(field.key);
      write_reparsable(out, field.value);
    } else if (!written[k]) {
      written[k] = true;
      write_key(field.key);
      out += edits[k].value;
    }
  }
  for (std::size_t k = 0; k < edits.size(); ++k) {
    if (written[k]) continue;
    write_key(edits[k].key);
    out += edits[k].value;
  }
  out += '}';
  return out;
}

// Read only when asked: most events' times are already in the one format and need no parse at all.
class TimeField {
 public:
  TimeField(std::string_view key, std::optional<dom::element> value) : key(key), value(value), text(string_of(value)) {}
  // The time, when the value is a readable string.
  const std::optional<GatewayTime>& parsed() {
    if (!parsed_) parsed_.emplace(text ? parse_gateway_time(*text) : std::nullopt);
    return *parsed_;
  }

  const std::string_view key;
  const std::optional<dom::element> value;  // as sent
  const std::optional<std::string_view> text;

 private:
  std::optional<std::optional<GatewayTime>> parsed_;
};

// The members the stamp reads, found in one pass (the last of a duplicated key, as json::member finds it).
struct StampedKeys {
  static constexpr std::string_view names[] = {"receivedAt", "originalTimestamp", "sentAt", "timestamp",
                                               "messageId",  "anonymousId",       "request_ip", "context"};
  enum Index { received_at, original_timestamp, sent_at, timestamp, message_id, anonymous_id, request_ip, context };
  std::optional<dom::element> values[std::size(names)];

  explicit StampedKeys(dom::element event) {
    for (auto field : json::as_object(event))
      for (std::size_t k = 0; k < std::size(names); ++k)
        if (field.key == names[k]) values[k] = field.value;
  }
  std::optional<dom::element> operator[](Index k) const { return values[k]; }
};

// A readable time written again in the one format, when that changes its text.
void reformat(std::vector<Edit>& edits, TimeField& field) {
  if (!field.text) return;
  // Already "2024-05-01T10:00:00.000Z" (what the SDKs send): readable or not, it is left as it is, so skip the work.
  const std::string_view text = *field.text;
  if (text.size() == 24 && text[10] == 'T' && text[19] == '.' && text[23] == 'Z') return;
  if (!field.parsed()) return;
  std::string formatted = format_gateway_time(*field.parsed());
  if (formatted != text) set(edits, field.key, json_text(formatted));
}

}  // namespace

std::string resolve_client_ip(std::string_view peer, std::string_view x_forwarded_for,
                              std::span<const ip::Network> trusted_proxies) {
  const auto peer_address = ip::parse_address(peer);
  if (!peer_address) return "";
  ip::Address client = *peer_address;
  if (!trusted(client, trusted_proxies)) return ip::to_string(client);
  // From the right: each hop was added by the one after it, and only a trusted hop's word is taken.
  while (!text::trim(x_forwarded_for).empty()) {
    const auto comma = x_forwarded_for.rfind(',');
    const std::string_view entry = comma == std::string_view::npos ? x_forwarded_for : x_forwarded_for.substr(comma + 1);
    x_forwarded_for = comma == std::string_view::npos ? std::string_view() : x_forwarded_for.substr(0, comma);
    const auto address = forwarded_address(entry);
    if (!address) break;
    client = *address;
    if (!trusted(client, trusted_proxies)) break;
  }
  return ip::to_string(client);
}

std::optional<std::string> gateway_stamp(dom::element event, const Arrival& arrival) {
  if (!event.is_object()) return std::nullopt;
  std::vector<Edit> edits;

  // Times: rudder-server's job-level receivedAt is the arrival, whatever the event says.
  const auto received_nanos =
      chrono::duration_cast<chrono::nanoseconds>(arrival.received_at.time_since_epoch()).count();
  const GatewayTime received = from_nanos(Nanos(received_nanos), 0);
  std::string received_cache;  // written only for an event that lacks a time
  const auto received_text = [&]() -> const std::string& {
    if (received_cache.empty()) received_cache = json_text(format_gateway_time(received));
    return received_cache;
  };
  const StampedKeys keys(event);
  if (!keys[StampedKeys::received_at]) set(edits, "receivedAt", received_text());

  TimeField original("originalTimestamp", keys[StampedKeys::original_timestamp]);
  TimeField sent("sentAt", keys[StampedKeys::sent_at]);
  TimeField timestamp("timestamp", keys[StampedKeys::timestamp]);
  for (TimeField* field : {&original, &sent}) {
    if (!field->value) set(edits, field->key, received_text());
    else reformat(edits, *field);
  }
  if (timestamp.parsed()) {
    reformat(edits, timestamp);
  } else {
    // GetChronologicalTimeStamp: receivedAt.Add(-sentAt.Sub(originalTimestamp)), Sub saturating as Go's does.
    const Nanos from = to_nanos(original.parsed().value_or(received)), to = to_nanos(sent.parsed().value_or(received));
    constexpr Nanos max = std::numeric_limits<std::int64_t>::max(), min = std::numeric_limits<std::int64_t>::min();
    const Nanos d = std::clamp(to - from, min, max);
    const Nanos minus_d = d == min ? min : -d;  // Go's -d wraps at the minimum
    set(edits, "timestamp", json_text(format_gateway_time(from_nanos(to_nanos(received) + minus_d, 0))));
  }

  // messageId: the cleaned string, or one made from the event itself.
  const auto message_id = keys[StampedKeys::message_id];
  const auto message_id_text = string_of(message_id);
  if (message_id_text && !text::trim(*message_id_text).empty()) {
    if (text::trim(*message_id_text) != *message_id_text) set(edits, "messageId", json_text(text::trim(*message_id_text)));
  } else {
    set(edits, "messageId", json_text(uuid_v5(arrival.source, simdjson::minify(event))));
  }

  // rudder-server's gateway reads the header as plain text (no base64 decoding) only to pick a worker and build the
  // job's user id; the SDKs that send it (JS, Android) base64-encode it and always carry anonymousId in the event,
  // so for them this never fires and the event is as the gateway passes it on (docs/ingest.md, stamping table).
  const std::string_view header_id = text::trim(arrival.anonymous_id_header);
  if (!header_id.empty() && absent_or_empty(keys[StampedKeys::anonymous_id])) set(edits, "anonymousId", json_text(header_id));

  // context.ip: the event's own request_ip first (an event relayed by rudder-server has the shopper's there, and
  // the peer is rudder-server), as rudder-transformer's getParsedIP falls back to it.
  const auto request_ip = keys[StampedKeys::request_ip];
  if (!request_ip && !arrival.client_ip.empty()) set(edits, "request_ip", json_text(arrival.client_ip));
  const auto own_ip = string_of(request_ip);
  const std::string_view ip = own_ip && !text::trim(*own_ip).empty() ? *own_ip : std::string_view(arrival.client_ip);
  if (!ip.empty()) {
    const auto context = keys[StampedKeys::context];
    if (!context || context->is_null()) {
      set(edits, "context", "{\"ip\":" + json_text(ip) + "}");
    } else if (context->is_object() && absent_or_empty(json::member(*context, "ip"))) {
      set(edits, "context", with_edits(*context, std::vector<Edit>{Edit{"ip", json_text(ip)}}));
    }
  }

  if (edits.empty()) return std::nullopt;
  return with_edits(event, edits);
}

}  // namespace omt::protocol
