// iso4217_currency: trim, upper-case, then a binary search in a sorted table of the current ISO-4217 codes.
#include <algorithm>
#include <array>

#include "ascii.hpp"
#include "omt/core/text.hpp"
#include "omt/validate/validators.hpp"

namespace omt::validate {
namespace {

// ISO-4217 List One (current currency and funds codes) as of 2026-01-01 (through Amendment 180).
// Built from Debian iso-codes 4.15 (/usr/share/iso-codes/json/iso_4217.json on the build machine, 181 codes)
// with these amendments applied, as reported by the issuing central banks' announcements and by two
// independent code lists that track SIX's list one/list three (checked with the search tool, 2026):
//   added:     VED 2021 (Venezuela, digital bolivar; VES stays current), SLE 2021/22 (Sierra Leone
//              redenomination), ZWG 2024-06-25 (Zimbabwe Gold, Amendment 177), XCG 2025-03-31 (Caribbean
//              guilder, Curaçao and Sint Maarten, Amendment 176), XAD 2025 (Arab Accounting Dinar, Arab
//              Monetary Fund, Amendment 179).
//   withdrawn: HRK 2023 (Croatia adopted the euro), SLL (replaced by SLE), ZWL 2024-08-31 (replaced by ZWG),
//              CUC (Cuba, Amendment 178), ANG 2025-07-01 (replaced by XCG), BGN 2026-01-01 (Bulgaria adopted
//              the euro, Amendment 180).
// Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals (XAG, XAU, XPD, XPT), bond-market
// units (XBA-XBD), XDR, XSU and XUA are in List One and accepted. Deliberately NOT accepted although in List
// One: XTS ("reserved for testing") and XXX ("no currency"): neither can price an order, so a value holding
// them is a data error worth surfacing. Review this table when SIX publishes a new amendment.
constexpr std::array<std::string_view, 176> kCurrentCodes = {
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD", "BIF", "BMD",
    "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF",
    "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
    "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD",
    "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAD", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG",
    "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG",
};
// binary_search needs strictly ascending entries; a mis-sorted edit fails the build, not a lookup.
static_assert(std::adjacent_find(kCurrentCodes.begin(), kCurrentCodes.end(),
                                 [](std::string_view a, std::string_view b) { return a >= b; }) ==
              kCurrentCodes.end());

}  // namespace

std::optional<std::string> iso4217_currency(std::string_view input) {
  const std::string_view trimmed = text::trim(input);
  if (trimmed.size() != 3) return std::nullopt;
  std::array<char, 3> upper{};
  for (std::size_t i = 0; i < 3; ++i) {
    if (!ascii::is_alpha(trimmed[i])) return std::nullopt;
    upper[i] = ascii::to_upper(trimmed[i]);
  }
  const std::string_view code(upper.data(), upper.size());
  if (!std::binary_search(kCurrentCodes.begin(), kCurrentCodes.end(), code)) return std::nullopt;
  return std::string(code);
}

}  // namespace omt::validate
