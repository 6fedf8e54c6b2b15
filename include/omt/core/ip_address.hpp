// IP addresses and networks as text (IPv4 "203.0.113.9", IPv6 "2001:db8::1", networks "10.0.0.0/8",
// "2001:db8::/32"): the parse of the config's ingest.trusted_proxies and of a request's peer and
// X-Forwarded-For entries. Pure; never throws. An IPv4-mapped IPv6 address (::ffff:203.0.113.9, what a
// dual-stack socket reports for an IPv4 peer) is read as the IPv4 address, so one network covers both spellings.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "omt/error.hpp"

namespace omt::ip {

struct Address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4
};

struct Network {
  Address base;         // host bits cleared
  unsigned prefix = 0;  // 0..32 (IPv4) or 0..128 (IPv6)
};

// An address without port, brackets or zone ("fe80::1%eth0" is refused); nullopt otherwise.
std::optional<Address> parse_address(std::string_view text);
// The address in its usual spelling (inet_ntop's: "203.0.113.9", "2001:db8::1").
std::string to_string(const Address& address);

// "10.0.0.0/8", "2001:db8::/32", or a bare address (a network of that one address). Host bits set past the
// prefix ("10.0.0.1/8") are refused: the entry would not mean what it seems to. Errors (errc::invalid_config)
// say what was expected.
Expected<Network> parse_network(std::string_view text);
std::string to_string(const Network& network);  // "10.0.0.0/8"

// True when the address is in the network (an IPv4 address is never in an IPv6 network, nor the reverse).
bool contains(const Network& network, const Address& address);

}  // namespace omt::ip
