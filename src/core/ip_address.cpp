// IP text through inet_pton / inet_ntop (no name lookups: these never touch the network).
#include "omt/core/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace omt::ip {

namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::optional<Address> parse_address(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  char buffer[46];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  Address address;
  if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) return address;
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) != 1) return std::nullopt;
  if (std::memcmp(address.bytes.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size()) == 0) {
    Address v4;
    std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
    return v4;
  }
  address.v6 = true;
  return address;
}

std::string to_string(const Address& address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), buffer, sizeof buffer);
  return buffer;
}

Expected<Network> parse_network(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = parse_address(text.substr(0, slash));
  if (!address)
    return fail(errc::invalid_config, "expected an IP address or a network such as \"10.0.0.0/8\" or \"2001:db8::/32\"");
  Network network{*address, address->v6 ? 128u : 32u};
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned prefix = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix > network.prefix)
      return fail(errc::invalid_config, "expected a prefix length of 0 to " + std::to_string(network.prefix) +
                                            " after the \"/\"");
    network.prefix = prefix;
  }
  const unsigned width = address->v6 ? 128u : 32u;
  for (unsigned bit = network.prefix; bit < width; ++bit)
    network.base.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  if (network.base.bytes != address->bytes)
    return fail(errc::invalid_config, "has bits set past its prefix length (the network is " + to_string(network) + ")");
  return network;
}

std::string to_string(const Network& network) { return to_string(network.base) + "/" + std::to_string(network.prefix); }

bool contains(const Network& network, const Address& address) {
  if (network.base.v6 != address.v6) return false;
  for (unsigned bit = 0; bit < network.prefix; ++bit) {
    const std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((network.base.bytes[bit / 8] & mask) != (address.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

}  // namespace omt::ip
