// The gateway's stamps (protocol/gateway_stamp.hpp), one test per row of rudder-server's rules
// (docs/reference/rudder-server-gateway.md sections 1-3) and of ours where they differ; the time text; the client
// address behind trusted proxies; the ip:: parse it uses; ingest.trusted_proxies in the config.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <regex>

#include "mapping_dir.hpp"
#include "omt/config/config.hpp"
#include "omt/core/ip_address.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/protocol/gateway_stamp.hpp"
#include "omt/protocol/ingest.hpp"

namespace {
using nlohmann::json;
using namespace omt::protocol;
using namespace std::chrono;
using namespace std::chrono_literals;

// The arrival: 2024-05-01T10:00:05.678901Z (the microseconds are cut when written: milliseconds, truncated).
const system_clock::time_point kArrival =
    time_point_cast<system_clock::duration>(sys_days{year{2024} / 5 / 1} + 10h + 5s + 678901us);
const std::string kArrivalText = "2024-05-01T10:00:05.678Z";

Arrival arrival(std::string client_ip = "203.0.113.9", std::string anonymous_id_header = "") {
  return Arrival{kArrival, std::move(client_ip), std::move(anonymous_id_header), "web"};
}

// The event text stamped, or nullopt when the stage changes nothing.
std::optional<std::string> stamp_text(const std::string& event, const Arrival& facts = arrival()) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  EXPECT_EQ(parser.parse(event).get(element), simdjson::SUCCESS) << event;
  return gateway_stamp(element, facts);
}

// The event as stamped (the event itself when nothing changed).
json stamp(const json& event, const Arrival& facts = arrival()) {
  const auto out = stamp_text(event.dump(), facts);
  return out ? json::parse(*out) : event;
}

// An event that already has everything (what rudder-server sends on): the stage leaves it alone.
json complete_event() {
  return {{"type", "track"},
          {"event", "x"},
          {"messageId", "m-1"},
          {"anonymousId", "a-1"},
          {"originalTimestamp", "2024-05-01T09:59:59.000Z"},
          {"sentAt", "2024-05-01T10:00:00.000Z"},
          {"timestamp", "2024-05-01T10:00:04.678Z"},
          {"receivedAt", "2024-05-01T10:00:05.678Z"},
          {"request_ip", "198.51.100.1"},
          {"context", {{"ip", "198.51.100.1"}}}};
}

// ---- time text -------------------------------------------------------------------------------------------------

std::string reformat(std::string_view text) {
  const auto t = parse_gateway_time(text);
  return t ? format_gateway_time(*t) : "unreadable";
}

TEST(GatewayTime, RfcThreeThreeThreeNineAndItsRelativesAreRead) {
  EXPECT_EQ(reformat("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(reformat("2024-05-01T10:00:00.123Z"), "2024-05-01T10:00:00.123Z");
  EXPECT_EQ(reformat("2024-05-01T10:00:00.1239Z"), "2024-05-01T10:00:00.123Z");  // truncated, not rounded
  EXPECT_EQ(reformat("2024-05-01T10:00:00.999999999Z"), "2024-05-01T10:00:00.999Z");
  EXPECT_EQ(reformat("2024-05-01T10:00:00,5Z"), "2024-05-01T10:00:00.500Z");
  EXPECT_EQ(reformat("2024-05-01 10:00:00"), "2024-05-01T10:00:00.000Z");  // no zone: UTC
  EXPECT_EQ(reformat("2024-05-01T10:00"), "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(reformat("2024-05-01"), "2024-05-01T00:00:00.000Z");
  EXPECT_EQ(reformat("2024-05-01t10:00:00z"), "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(reformat("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00.000Z");  // Go's zero time
}

TEST(GatewayTime, AZoneOffsetIsKeptWhenWrittenAgain) {
  EXPECT_EQ(reformat("2024-05-01T15:30:00+05:30"), "2024-05-01T15:30:00.000+05:30");
  EXPECT_EQ(reformat("2024-05-01T15:30:00.25+0530"), "2024-05-01T15:30:00.250+05:30");
  EXPECT_EQ(reformat("2024-05-01T05:00:00-05"), "2024-05-01T05:00:00.000-05:00");
  EXPECT_EQ(reformat("2024-05-01T10:00:00+00:00"), "2024-05-01T10:00:00.000Z");  // offset 0 is "Z", as Go writes it
  EXPECT_EQ(reformat("2024-05-01 10:00:00 +0100"), "2024-05-01T10:00:00.000+01:00");
  const auto t = parse_gateway_time("2024-05-01T15:30:00+05:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->seconds, parse_gateway_time("2024-05-01T10:00:00Z")->seconds);  // the same instant
  EXPECT_EQ(t->offset_minutes, 330);
}

TEST(GatewayTime, DigitsAloneAreReadByTheirCount) {
  EXPECT_EQ(reformat("1714557600"), "2024-05-01T10:00:00.000Z");           // 10: Unix seconds
  EXPECT_EQ(reformat("1714557600123"), "2024-05-01T10:00:00.123Z");        // 13: milliseconds
  EXPECT_EQ(reformat("1714557600123456"), "2024-05-01T10:00:00.123Z");     // 16: microseconds
  EXPECT_EQ(reformat("1714557600123456789"), "2024-05-01T10:00:00.123Z");  // 19: nanoseconds
  EXPECT_EQ(reformat("20240501100000"), "2024-05-01T10:00:00.000Z");       // 14: yyyyMMddhhmmss
  EXPECT_EQ(reformat("20240501"), "2024-05-01T00:00:00.000Z");             // 8: yyyymmdd
  EXPECT_EQ(reformat("2024"), "2024-01-01T00:00:00.000Z");                 // 4: yyyy
  EXPECT_EQ(reformat("171455760"), "unreadable");                          // 9: no such count
  EXPECT_EQ(reformat("17145576001"), "unreadable");
}

TEST(GatewayTime, OtherTextIsUnreadable) {
  for (const char* text : {"", "yesterday", "2024-13-01T00:00:00Z", "2024-02-30", "2024-05-01T25:00:00Z",
                           "2024-05-01T10:60:00Z", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00+5",
                           "2024-05-01T10:00:00 GMT", "Wed, 01 May 2024 10:00:00 GMT", "05/01/2024", "2024-05-01X",
                           "2024-05-01T10:00:00Zjunk", "20240230"})
    EXPECT_EQ(reformat(text), "unreadable") << text;
}

// ---- timestamps: enhanceWithTimeFields ----------------------------------------------------------------------------

TEST(GatewayStamp, TimestampIsReceivedAtLessTheClientsClockSkewWhenItSentBoth) {
  // The client's clock is 1 min 30 s behind: it made the event 2.5 s before it sent it.
  const json out = stamp({{"type", "track"}, {"originalTimestamp", "2024-05-01T09:58:33.000Z"}, {"sentAt", "2024-05-01T09:58:35.500Z"}});
  EXPECT_EQ(out["timestamp"], "2024-05-01T10:00:03.178Z");
  EXPECT_EQ(out["receivedAt"], kArrivalText);
  EXPECT_EQ(out["originalTimestamp"], "2024-05-01T09:58:33.000Z");  // as sent (already in the one format)
  EXPECT_EQ(out["sentAt"], "2024-05-01T09:58:35.500Z");
}

TEST(GatewayStamp, WithoutSentAtTheTimestampIsTheOriginalTimestamp) {
  const json out = stamp({{"type", "track"}, {"originalTimestamp", "2024-05-01T09:00:00.123Z"}});
  EXPECT_EQ(out["timestamp"], "2024-05-01T09:00:00.123Z");
  EXPECT_EQ(out["sentAt"], kArrivalText);  // added, as rudder-server's processor writes it
}

TEST(GatewayStamp, WithNeitherEveryTimeIsTheArrival) {
  const json out = stamp({{"type", "track"}, {"event", "x"}});  // what a curl user sends
  EXPECT_EQ(out["timestamp"], kArrivalText);
  EXPECT_EQ(out["originalTimestamp"], kArrivalText);
  EXPECT_EQ(out["sentAt"], kArrivalText);
  EXPECT_EQ(out["receivedAt"], kArrivalText);
}

TEST(GatewayStamp, WithOnlySentAtTheFormulaRunsAsRudderServersDoes) {
  // originalTimestamp taken as receivedAt: receivedAt - (sentAt - receivedAt) = 2 receivedAt - sentAt.
  const json out = stamp({{"type", "track"}, {"sentAt", "2024-05-01T10:00:00.678901Z"}});
  EXPECT_EQ(out["timestamp"], "2024-05-01T10:00:10.678Z");
}

TEST(GatewayStamp, AReadableTimestampIsKeptWithItsZone) {
  json event = {{"type", "track"}, {"timestamp", "2024-04-30T23:00:00+02:00"}, {"originalTimestamp", "2024-05-01T09:00:00Z"}};
  const json out = stamp(event);
  EXPECT_EQ(out["timestamp"], "2024-04-30T23:00:00.000+02:00");  // kept, in the one format, its offset too
  EXPECT_EQ(out["originalTimestamp"], "2024-05-01T09:00:00.000Z");
}

TEST(GatewayStamp, AnUnreadableOrNumericTimestampIsReplacedByTheComputedOne) {
  for (const json& value : {json("next tuesday"), json(1714557600000), json(nullptr), json::object()}) {
    const json out = stamp({{"type", "track"}, {"timestamp", value}, {"originalTimestamp", "2024-05-01T09:00:00Z"}});
    EXPECT_EQ(out["timestamp"], "2024-05-01T09:00:00.000Z") << value;
  }
}

TEST(GatewayStamp, NumbersAndUnreadableTextCountAsMissingInTheFormulaAndAreLeftAsSent) {
  // Epoch millis as a JSON number is not a time to rudder-server: only strings are.
  const json out = stamp({{"type", "track"}, {"originalTimestamp", 1714557600000}, {"sentAt", "soon"}});
  EXPECT_EQ(out["timestamp"], kArrivalText);
  EXPECT_EQ(out["originalTimestamp"], 1714557600000);
  EXPECT_EQ(out["sentAt"], "soon");
  // As a string the same digits are a time.
  EXPECT_EQ(stamp({{"type", "track"}, {"originalTimestamp", "1714557600000"}})["timestamp"], "2024-05-01T10:00:00.000Z");
}

TEST(GatewayStamp, AClientsReceivedAtIsKept) {
  const json out = stamp({{"type", "track"}, {"receivedAt", "2020-01-01T00:00:00Z"}});
  EXPECT_EQ(out["receivedAt"], "2020-01-01T00:00:00Z");
  EXPECT_EQ(out["timestamp"], kArrivalText);  // the formula uses the arrival, whatever the event says
}

// ---- messageId: fillMessageID, but deterministic ------------------------------------------------------------------

TEST(GatewayStamp, AMissingMessageIdIsAVersionFiveUuidOfTheSourceAndTheEvent) {
  const json event = {{"type", "track"}, {"event", "x"}, {"userId", "u-1"}};
  const std::string id = stamp(event)["messageId"];
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"))) << id;
  // A request sent again gets the same id, at any time, from anywhere.
  EXPECT_EQ(stamp(event, Arrival{kArrival + 1h, "198.51.100.7", "", "web"})["messageId"], id);
  // Another event, or the same event from another source, gets another.
  EXPECT_NE(stamp(json{{"type", "track"}, {"event", "y"}, {"userId", "u-1"}})["messageId"], id);
  EXPECT_NE(stamp(event, Arrival{kArrival, "203.0.113.9", "", "app"})["messageId"], id);
}

TEST(GatewayStamp, AStringMessageIdIsKeptTrimmedAndAnyOtherIsReplaced) {
  EXPECT_EQ(stamp({{"type", "track"}, {"messageId", "m-1"}})["messageId"], "m-1");
  EXPECT_EQ(stamp({{"type", "track"}, {"messageId", "  m-1\t"}})["messageId"], "m-1");
  for (const json& value : {json(""), json("   "), json(42), json(nullptr)}) {
    const std::string id = stamp({{"type", "track"}, {"messageId", value}})["messageId"];
    EXPECT_EQ(id.size(), 36u) << value;
  }
}

// ---- anonymousId, request_ip, context.ip --------------------------------------------------------------------------

TEST(GatewayStamp, TheAnonymousIdHeaderIsTakenOnlyWhenTheEventHasNone) {
  EXPECT_EQ(stamp({{"type", "track"}}, arrival("203.0.113.9", " anon-h "))["anonymousId"], "anon-h");
  EXPECT_EQ(stamp({{"type", "track"}, {"anonymousId", nullptr}}, arrival("203.0.113.9", "anon-h"))["anonymousId"], "anon-h");
  EXPECT_EQ(stamp({{"type", "track"}, {"anonymousId", ""}}, arrival("203.0.113.9", "anon-h"))["anonymousId"], "anon-h");
  EXPECT_EQ(stamp({{"type", "track"}, {"anonymousId", "own"}}, arrival("203.0.113.9", "anon-h"))["anonymousId"], "own");
  // As RudderStack's JavaScript SDK sends it (tests/integration/data/browser_sdk/identify.http): the header is
  // base64("26f791eb-..."), the event carries the id itself, and that is what stays, as through rudder-server.
  EXPECT_EQ(stamp({{"type", "identify"}, {"anonymousId", "26f791eb-9dbf-4087-9261-67008c088395"}},
                  arrival("203.0.113.9", "MjZmNzkxZWItOWRiZi00MDg3LTkyNjEtNjcwMDhjMDg4Mzk1"))["anonymousId"],
            "26f791eb-9dbf-4087-9261-67008c088395");
  EXPECT_FALSE(stamp({{"type", "track"}}).contains("anonymousId"));  // no header: nothing
}

TEST(GatewayStamp, TheClientsAddressGoesToRequestIpAndContextIpWhenAbsent) {
  json out = stamp({{"type", "track"}});
  EXPECT_EQ(out["request_ip"], "203.0.113.9");
  EXPECT_EQ(out["context"], json({{"ip", "203.0.113.9"}}));

  out = stamp({{"type", "track"}, {"context", {{"traits", {{"email", "a@example.com"}}}, {"ip", nullptr}}}});
  EXPECT_EQ(out["context"], json({{"traits", {{"email", "a@example.com"}}}, {"ip", "203.0.113.9"}}));

  out = stamp({{"type", "track"}, {"request_ip", "10.1.1.1"}, {"context", {{"ip", "198.51.100.2"}}}});
  EXPECT_EQ(out["request_ip"], "10.1.1.1");
  EXPECT_EQ(out["context"]["ip"], "198.51.100.2");

  // An event relayed by rudder-server (its Webhook destination) has the shopper's address in request_ip, and
  // the peer is rudder-server: context.ip takes the event's own.
  out = stamp({{"type", "track"}, {"request_ip", "198.51.100.3"}, {"context", {{"library", {{"name", "js"}}}}}});
  EXPECT_EQ(out["request_ip"], "198.51.100.3");
  EXPECT_EQ(out["context"], json({{"library", {{"name", "js"}}}, {"ip", "198.51.100.3"}}));
  EXPECT_EQ(stamp({{"type", "track"}, {"request_ip", ""}})["context"]["ip"], "203.0.113.9");
  EXPECT_EQ(stamp({{"type", "track"}, {"request_ip", "198.51.100.3"}}, arrival(""))["context"]["ip"], "198.51.100.3");

  out = stamp({{"type", "track"}, {"context", "not an object"}});
  EXPECT_EQ(out["context"], "not an object");

  out = stamp({{"type", "track"}}, arrival(""));  // no known address: neither is stamped
  EXPECT_FALSE(out.contains("request_ip"));
  EXPECT_FALSE(out.contains("context"));
}

// ---- the text -------------------------------------------------------------------------------------------------------

TEST(GatewayStamp, NothingChangesForAnEventThatHasEverything) {
  EXPECT_EQ(stamp_text(complete_event().dump()), std::nullopt);
  json spaced = complete_event();
  spaced["originalTimestamp"] = "2024-05-01T09:59:59Z";  // readable but not in the one format: written again
  EXPECT_EQ(stamp(spaced)["originalTimestamp"], "2024-05-01T09:59:59.000Z");
}

TEST(GatewayStamp, MembersKeepTheirOrderAndValuesTheirBytes) {
  const auto out = stamp_text(
      R"({"type":"track","big":12345678901234567890,"n":-9007199254740993,"f":0.1,"timestamp":"x","event":"y","messageId":"m"})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"type":"track","big":12345678901234567890,"n":-9007199254740993,"f":0.1,)"
                  R"("timestamp":"2024-05-01T10:00:05.678Z","event":"y","messageId":"m",)"
                  R"("receivedAt":"2024-05-01T10:00:05.678Z","originalTimestamp":"2024-05-01T10:00:05.678Z",)"
                  R"("sentAt":"2024-05-01T10:00:05.678Z","request_ip":"203.0.113.9","context":{"ip":"203.0.113.9"}})");
}

TEST(GatewayStamp, ADuplicatedKeyIsReadAsJsonParseReadsItAndWrittenOnce) {
  const auto out = stamp_text(R"({"type":"track","timestamp":"2024-01-01T00:00:00Z","messageId":"m","timestamp":"bad"})");
  ASSERT_TRUE(out);
  // The last "timestamp" is the one that counts (unreadable: replaced); it is written once, at the first place.
  EXPECT_NE(out->find(R"("type":"track","timestamp":"2024-05-01T10:00:05.678Z","messageId":"m","receivedAt")"),
            std::string::npos)
      << *out;
}

// ---- the client's address -----------------------------------------------------------------------------------------

std::vector<omt::ip::Network> networks(std::initializer_list<const char*> texts) {
  std::vector<omt::ip::Network> out;
  for (const char* text : texts) out.push_back(*omt::ip::parse_network(text));
  return out;
}

TEST(ClientIp, WithoutTrustedProxiesItIsThePeerWhateverXForwardedForSays) {
  EXPECT_EQ(resolve_client_ip("198.51.100.7", "203.0.113.9", {}), "198.51.100.7");
  EXPECT_EQ(resolve_client_ip("::ffff:198.51.100.7", "", {}), "198.51.100.7");  // IPv4 on a dual-stack socket
  EXPECT_EQ(resolve_client_ip("2001:db8::7", "", {}), "2001:db8::7");
  EXPECT_EQ(resolve_client_ip("not an address", "", {}), "");
  const auto trusted = networks({"10.0.0.0/8"});
  EXPECT_EQ(resolve_client_ip("198.51.100.7", "203.0.113.9", trusted), "198.51.100.7");  // not a trusted peer
}

TEST(ClientIp, FromATrustedProxyTheRightmostUntrustedEntryIsTheClient) {
  const auto trusted = networks({"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"});
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "203.0.113.9", trusted), "203.0.113.9");
  // A client that writes its own X-Forwarded-For cannot choose its address: the proxy appended the real one.
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "1.2.3.4, 203.0.113.9", trusted), "203.0.113.9");
  // Through two trusted hops.
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "1.2.3.4,203.0.113.9, 10.0.0.3 ,192.0.2.1", trusted), "203.0.113.9");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "10.0.0.5,10.0.0.3", trusted), "10.0.0.5");
  // No header, or an empty one: the proxy itself.
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "", trusted), "10.0.0.2");
  EXPECT_EQ(resolve_client_ip("10.0.0.2", " ", trusted), "10.0.0.2");
  // Ports and brackets, IPv6.
  EXPECT_EQ(resolve_client_ip("2001:db8:ffff::1", "[2001:db8::9]:443", trusted), "2001:db8::9");
  EXPECT_EQ(resolve_client_ip("::ffff:10.0.0.2", "203.0.113.9:5511", trusted), "203.0.113.9");
  // A hop that is not an address ends the walk: the last address read.
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "203.0.113.9,unknown", trusted), "10.0.0.2");
  EXPECT_EQ(resolve_client_ip("10.0.0.2", "unknown,10.0.0.3", trusted), "10.0.0.3");
}

TEST(IpNetwork, AddressesAndNetworksOfBothFamiliesAreRead) {
  const auto n = omt::ip::parse_network("10.0.0.0/8");
  ASSERT_TRUE(n);
  EXPECT_EQ(omt::ip::to_string(*n), "10.0.0.0/8");
  EXPECT_TRUE(omt::ip::contains(*n, *omt::ip::parse_address("10.255.0.1")));
  EXPECT_FALSE(omt::ip::contains(*n, *omt::ip::parse_address("11.0.0.1")));
  EXPECT_FALSE(omt::ip::contains(*n, *omt::ip::parse_address("::a00:1")));  // another family
  EXPECT_EQ(omt::ip::to_string(*omt::ip::parse_network("::1")), "::1/128");
  EXPECT_EQ(omt::ip::to_string(*omt::ip::parse_network("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_TRUE(omt::ip::contains(*omt::ip::parse_network("2001:db8::/32"), *omt::ip::parse_address("2001:db8:1::5")));
  EXPECT_TRUE(omt::ip::contains(*omt::ip::parse_network("10.1.2.3"), *omt::ip::parse_address("::ffff:10.1.2.3")));
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129", "example.com", "10.0.0", "fe80::1%eth0",
                          "[::1]", "10.0.0.1:80"})
    EXPECT_FALSE(omt::ip::parse_network(bad)) << bad;
  const auto host_bits = omt::ip::parse_network("10.0.0.1/8");
  ASSERT_FALSE(host_bits);
  EXPECT_EQ(host_bits.error().message, "has bits set past its prefix length (the network is 10.0.0.0/8)");
}

TEST(TrustedProxiesConfig, AListOrACommaSeparatedStringIsReadAndABadEntryNamed) {
  auto config = omt::config::validate(*omt::config::RawConfig::parse(R"({"ingest":{"trusted_proxies":["10.0.0.0/8","::1"]}})"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->ingest.trusted_proxies.size(), 2u);
  EXPECT_EQ(omt::ip::to_string(config->ingest.trusted_proxies[1]), "::1/128");
  EXPECT_TRUE(omt::config::validate(omt::config::RawConfig())->ingest.trusted_proxies.empty());  // default: none

  omt::config::RawConfig from_environment;
  from_environment.set("ingest.trusted_proxies", std::string("10.0.0.0/8, 192.0.2.1"));
  config = omt::config::validate(from_environment);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->ingest.trusted_proxies.size(), 2u);

  auto bad = omt::config::validate(*omt::config::RawConfig::parse(R"({"ingest":{"trusted_proxies":["10.0.0.0/8","10.0.0.1/8"]}})", "c.json"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "c.json: ingest.trusted_proxies[1]: \"10.0.0.1/8\": has bits set past its prefix length (the network is 10.0.0.0/8)");
  bad = omt::config::validate(*omt::config::RawConfig::parse(R"({"ingest":{"trusted_proxies":["proxy.internal"]}})", "c.json"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "c.json: ingest.trusted_proxies[0]: \"proxy.internal\": expected an IP address or a network "
                                 "such as \"10.0.0.0/8\" or \"2001:db8::/32\"");
  bad = omt::config::validate(*omt::config::RawConfig::parse(R"({"ingest":{"trusted_proxies":"10.0.0.0/8,,::1"}})", "c.json"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ingest.trusted_proxies[1]: \"\""), std::string::npos) << bad.error().message;
  bad = omt::config::validate(*omt::config::RawConfig::parse(R"({"ingest":{"trusted_proxies":[8]}})", "c.json"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ingest.trusted_proxies[0]: expected a string"), std::string::npos);
}

// ---- through ingest_events ----------------------------------------------------------------------------------------

TEST(GatewayStampInIngest, ACurlTrackWithoutTimestampIsAcceptedWithTheArrivalAsItsTime) {
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  omt::config::SourceConfig source;
  source.name = "web";
  source.destination.api_key = "key-1";
  const std::string body = R"({"userId":"u-1","event":"Viewed Thing","context":{"traits":{"email":"a@example.com"}}})";
  const Arrival facts = arrival();

  auto refused = ingest_events(IngestRoute::track, body, *transformer, source, {});  // not stamped
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->rejected.size(), 1u);

  auto accepted = ingest_events(IngestRoute::track, body, *transformer, source, {}, 0, &facts);
  ASSERT_TRUE(accepted);
  ASSERT_EQ(accepted->accepted.size(), 1u) << (accepted->rejected.empty() ? "" : accepted->rejected[0].error);
  const json record = json::parse(accepted->accepted[0].record.json);
  EXPECT_EQ(record["timestamp"], kArrivalText);
  EXPECT_EQ(record["id"].get<std::string>().size(), 36u);  // the generated messageId
  // The same request again: the same record, id included.
  auto again = ingest_events(IngestRoute::track, body, *transformer, source, {}, 0, &facts);
  EXPECT_EQ(again->accepted[0].record.json, accepted->accepted[0].record.json);
}

TEST(GatewayStampInIngest, BatchLevelContextIsMergedBeforeTheStamp) {
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  omt::config::SourceConfig source;
  source.name = "web";
  source.destination.api_key = "key-1";
  // The batch-level context.ip wins over the request's address: it is the event's own once merged.
  const std::string body = R"({"context":{"ip":"198.51.100.44"},"batch":[{"type":"track","userId":"u-1","event":"Order Completed",
    "context":{"traits":{"email":"a@example.com"}},"properties":{"order_id":"o-1","grand_total":1,"currency":"GBP"}}]})";
  const Arrival facts = arrival();
  auto result = ingest_events(IngestRoute::batch, body, *transformer, source, {}, 0, &facts);
  ASSERT_TRUE(result);
  ASSERT_EQ(result->accepted.size(), 1u) << (result->rejected.empty() ? "" : result->rejected[0].error);
  EXPECT_EQ(json::parse(result->accepted[0].record.json)["ip_address"], "198.51.100.44");
}

}  // namespace
