// The applier: constructPayload / extractCustomFields semantics of one table over one event.
#include <gtest/gtest.h>

#include <memory>

#include "mapping/applier.hpp"
#include "mapping/loader.hpp"
#include "mapping_dir.hpp"
#include "ometria/output_contract.hpp"

namespace {
using omt::mapping::TableSet;

class MappingApply : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = omt::mapping::load_tables(omt::test::project_mappings_dir(), omt::ometria::contract::all);
    ASSERT_TRUE(loaded) << loaded.error().message;
    tables_ = std::make_unique<TableSet>(std::move(*loaded));
  }
  omt::Expected<std::string> map(const omt::mapping::RuleList& rules, std::string_view event) {
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(event.data(), event.size()).get(e), simdjson::SUCCESS);
    omt::json::Arena arena;
    auto out = omt::mapping::apply(rules, e, arena);
    if (!out) return tl::unexpected(out.error());
    std::string text;
    omt::json::write(text, omt::json::OutValue(std::move(*out)));
    return text;
  }
  std::string custom(const omt::mapping::CustomFields& spec, std::string_view event) {
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(event.data(), event.size()).get(e), simdjson::SUCCESS);
    std::string text;
    omt::json::write(text, omt::json::OutValue(omt::mapping::extract_custom_fields(spec, e)));
    return text;
  }
  std::unique_ptr<TableSet> tables_;
  simdjson::dom::parser parser_;
};

TEST_F(MappingApply, FirstQualifyingSourceWinsAndEmptyStringsAreSkipped) {
  auto out = map(tables_->order.list("customer"),
                 R"({"userId":"","anonymousId":"anon","traits":{"email":""},"context":{"traits":{"email":null}},"properties":{"email":"p@x.io"}})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"id":"anon","email":"p@x.io"})");
}

TEST_F(MappingApply, ZeroAndFalseQualify) {
  auto out = map(tables_->lineitems.list("fields"), R"({"product_id":"p","quantity":0,"unit_price":0,"refunded":false})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"product_id":"p","quantity":0,"unit_price":0,"refunded":false})");
}

TEST_F(MappingApply, RequiredMessagesQuoteTheSourceKeysAsWritten) {
  auto single = map(tables_->order.list("fields"), R"({"properties":{}})");
  ASSERT_FALSE(single);
  EXPECT_EQ(single.error().message, R"(Missing required value from "properties.order_id")");
  auto list = map(tables_->order.list("fields"), R"({"properties":{"order_id":"o1"}})");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().message, R"(Missing required value from ["properties.timestamp","timestamp","originalTimestamp"])");
  auto generic = map(tables_->custom_event.list("fields"),
                     R"({"timestamp":"2024-01-01T00:00:00Z","context":{"traits":{"email":"a@b.c"}}})");
  ASSERT_FALSE(generic);
  EXPECT_EQ(generic.error().message, R"(Missing required value from "userId")");
}

TEST_F(MappingApply, RequiredErrorsComeBeforeValidatorErrors) {
  // Bad timestamp and missing currency: constructPayload's required check runs over every field first.
  auto out = map(tables_->order.list("fields"), R"({"properties":{"order_id":"o","timestamp":"x","grand_total":1}})");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, R"(Missing required value from "properties.currency")");
}

TEST_F(MappingApply, ValueMapDropsUnlistedValues) {
  EXPECT_EQ(*map(tables_->contact.list("fields"), R"({"traits":{"email":"e","gender":"FEMALE"}})"),
            R"({"email":"e","gender":"f"})");
  EXPECT_EQ(*map(tables_->contact.list("fields"), R"({"traits":{"email":"e","gender":"fem"}})"), R"({"email":"e"})");
  EXPECT_EQ(*map(tables_->contact.list("fields"), R"({"traits":{"email":"e","gender":1}})"), R"({"email":"e"})");
}

TEST_F(MappingApply, TypeCheckNamesTheSourceField) {
  auto out = map(tables_->order.list("fields"),
                 R"({"properties":{"order_id":"o","timestamp":"2024-01-01T00:00:00Z","grand_total":1,"currency":840}})");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "properties.currency must be a string, got number");
  EXPECT_EQ(out.error().path, "properties.currency");
}

TEST_F(MappingApply, KeepEmptyCopiesNullAndEmptyStringRaw) {
  EXPECT_EQ(*map(tables_->order.list("address"), R"({"city":null,"state":"","country":"GB","postalCode":""})"),
            R"({"city":null,"state":"","country_code":"GB"})");
}

TEST_F(MappingApply, IfEmptyFillsAKeyAnEarlierRuleLeftEmptyWhereTheRuleStands) {
  const auto& fields = tables_->custom_event.list("fields");
  const std::string base = R"("timestamp":"2024-05-01T10:00:00Z","traits":{"email":"a@example.com"},"userId":"u1")";
  // properties.event_id wins, in the first place; messageId is not looked at.
  EXPECT_EQ(*map(fields, "{" + base + R"(,"messageId":"m1","properties":{"event_id":"e1"}})"),
            R"({"id":"e1","timestamp":"2024-05-01T10:00:00Z","identity_email":"a@example.com","identity_account_id":"u1"})");
  // No event_id (or an empty one, which does not qualify): messageId, after identity_account_id.
  for (const char* props : {R"({})", R"({"event_id":""})"})
    EXPECT_EQ(*map(fields, "{" + base + R"(,"messageId":"m1","properties":)" + props + "}"),
              R"({"timestamp":"2024-05-01T10:00:00Z","identity_email":"a@example.com","identity_account_id":"u1","id":"m1"})");
  // Read as it is: a non-string messageId is copied too; null or absent leaves no id.
  EXPECT_EQ(*map(fields, "{" + base + R"(,"messageId":7})"),
            R"({"timestamp":"2024-05-01T10:00:00Z","identity_email":"a@example.com","identity_account_id":"u1","id":7})");
  for (const char* tail : {R"(,"messageId":null})", "}"})
    EXPECT_EQ(*map(fields, "{" + base + tail),
              R"({"timestamp":"2024-05-01T10:00:00Z","identity_email":"a@example.com","identity_account_id":"u1"})");
}

TEST_F(MappingApply, CustomFieldsLaterPathsOverwriteEarlierAndDottedKeysNest) {
  EXPECT_EQ(custom(*tables_->contact.custom_fields,
                   R"({"traits":{"a":1,"email":"x","b.c":2,"n":null},"context":{"traits":{"a":3,"z":"","listingId":"l"}}})"),
            R"({"a":3,"b":{"c":2},"n":null,"z":""})");
  EXPECT_EQ(custom(*tables_->lineitems.custom_fields, R"({"product_id":"p","name":"Shoe","__proto__":{"x":1}})"),
            R"({"name":"Shoe"})");
}

TEST_F(MappingApply, ReadingEachParentOnceGivesWhatAScanPerPathGives) {
  // The tables' parent_leaves: one pass over traits, context.traits and the event fills every key the tables read;
  // the answers must be those of a scan per path, duplicated keys (the last wins), nulls and odd parents included.
  const std::string_view events[] = {
      R"({"traits":{"email":"first@x.io","email":"last@x.io","listingId":"l1","phone":"+44 20 7946 0958"},"userId":"u"})",
      R"({"traits":{"email":""},"context":{"traits":{"email":"c@x.io","listingId":null,"gender":"F","gender":"male"}}})",
      R"({"traits":[{"email":"in-array@x.io"}],"context":{"traits":"not an object"},"userId":"u","userId":"u2"})",
      R"({"traits":{"":"empty key","emailx":"near","emai":"near"},"context":{"traits":{"email":"only@x.io"}}})",
  };
  for (const auto event : events) {
    simdjson::dom::element e;
    ASSERT_EQ(parser_.parse(event.data(), event.size()).get(e), simdjson::SUCCESS);
    for (const auto* rules : {&tables_->contact.list("fields"), &tables_->order.list("customer")}) {
      omt::json::Arena arena;
      omt::mapping::Source scanned(e), filled(e, &tables_->parent_leaves);
      auto a = omt::mapping::apply(*rules, scanned, arena), b = omt::mapping::apply(*rules, filled, arena);
      ASSERT_EQ(bool(a), bool(b)) << event;
      std::string ta, tb;
      if (a) {
        omt::json::write(ta, omt::json::OutValue(std::move(*a)));
        omt::json::write(tb, omt::json::OutValue(std::move(*b)));
      } else {
        ta = a.error().message;
        tb = b.error().message;
      }
      EXPECT_EQ(ta, tb) << event;
    }
    omt::mapping::Source filled(e, &tables_->parent_leaves);
    std::string ta, tb;
    omt::json::write(ta, omt::json::OutValue(omt::mapping::extract_custom_fields(*tables_->contact.custom_fields, e)));
    omt::json::write(tb, omt::json::OutValue(omt::mapping::extract_custom_fields(*tables_->contact.custom_fields, filled)));
    EXPECT_EQ(ta, tb) << event;
  }
}

TEST_F(MappingApply, TheLastDuplicateKeyWinsWhenParentsAreReadOnce) {
  simdjson::dom::element e;
  ASSERT_EQ(parser_.parse(std::string_view(R"({"traits":{"email":"a@x.io","listingId":"l","email":"b@x.io"}})")).get(e),
            simdjson::SUCCESS);
  omt::json::Arena arena;
  omt::mapping::Source source(e, &tables_->parent_leaves);
  auto out = omt::mapping::apply(tables_->contact.list("fields"), source, arena);
  ASSERT_TRUE(out) << out.error().message;
  const auto* email = out->find("email");
  ASSERT_NE(email, nullptr);
  const auto* element = std::get_if<simdjson::dom::element>(&email->v);
  ASSERT_NE(element, nullptr);
  EXPECT_EQ(std::string_view(element->get_string().value_unsafe()), "b@x.io");
}

TEST_F(MappingApply, CustomFieldsExcludeOnlyTheListedKeys) {
  const auto& spec = *tables_->contact.custom_fields;
  for (const char* key : {"email", "phone", "phoneNumber", "timestampUnsubscribed", "merge"}) EXPECT_TRUE(spec.excludes(key)) << key;
  for (const char* key : {"", "e", "emai", "emails", "Email", "phone_number", "loyaltyTier", "timestampUnsubscribedX"})
    EXPECT_FALSE(spec.excludes(key)) << key;
  omt::mapping::CustomFields long_keys;
  long_keys.exclude = {std::string(70, 'k'), "b", "a"};
  long_keys.sort_exclude();
  EXPECT_EQ(long_keys.exclude, (std::vector<std::string>{"a", "b", std::string(70, 'k')}));
  EXPECT_TRUE(long_keys.excludes(std::string(70, 'k')));
  EXPECT_FALSE(long_keys.excludes(std::string(71, 'k')));
  EXPECT_TRUE(long_keys.excludes("a"));
  EXPECT_FALSE(long_keys.excludes("c"));
  // Several keys of one first byte, the empty key, and the last first byte there is.
  omt::mapping::CustomFields edges;
  edges.exclude = {"\xff" "z", "", "ab", "a", "abc", "\xff", "b"};
  edges.sort_exclude();
  for (const char* key : {"", "a", "ab", "abc", "b", "\xff", "\xff" "z"}) EXPECT_TRUE(edges.excludes(key)) << key;
  for (const char* key : {"abd", "ac", "bb", "\xff" "y", "\xfe", "c"}) EXPECT_FALSE(edges.excludes(key)) << key;
  omt::mapping::CustomFields no_empty;
  no_empty.exclude = {"a"};
  no_empty.sort_exclude();
  EXPECT_FALSE(no_empty.excludes(""));
}

TEST_F(MappingApply, PathsThroughArraysAndNonObjects) {
  simdjson::dom::element e;
  ASSERT_EQ(parser_.parse(std::string_view(R"({"a":[{"b":1},{"b":2}],"s":"text"})")).get(e), simdjson::SUCCESS);
  auto path = [](std::vector<std::string> segments) { return omt::mapping::SourcePath{"", std::move(segments)}; };
  auto v = omt::mapping::lookup(e, path({"a", "1", "b"}));
  ASSERT_TRUE(v);
  EXPECT_EQ(int64_t(v->get_int64().value_unsafe()), 2);
  EXPECT_FALSE(omt::mapping::lookup(e, path({"a", "9", "b"})));
  EXPECT_FALSE(omt::mapping::lookup(e, path({"s", "length"})));
  EXPECT_FALSE(omt::mapping::lookup(e, path({"a", "x"})));
}

}  // namespace

// ---- the applier on its own: tables built by hand, no loader --------------------------------------------------

namespace {

omt::mapping::SourcePath dotted(const std::string& text, int parent_id = -1) {
  omt::mapping::SourcePath path{text, {}, parent_id};
  for (std::size_t start = 0;;) {
    const auto dot = text.find('.', start);
    path.segments.push_back(text.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return path;
    start = dot + 1;
  }
}

omt::mapping::Rule rule(const std::string& to, std::vector<omt::mapping::SourcePath> from) {
  omt::mapping::Rule r;
  r.to = to;
  r.from = std::move(from);
  return r;
}

class HandBuiltRules : public ::testing::Test {
 protected:
  omt::Expected<std::string> map(const omt::mapping::RuleList& rules, std::string_view event) {
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(event.data(), event.size()).get(e), simdjson::SUCCESS);
    omt::mapping::Source source(e);
    auto out = omt::mapping::apply(rules, source, arena_);
    if (!out) return tl::unexpected(out.error());
    std::string text;
    omt::json::write(text, omt::json::OutValue(std::move(*out)));
    return text;
  }
  simdjson::dom::parser parser_;
  omt::json::Arena arena_;
};

}  // namespace

TEST_F(HandBuiltRules, TransformsRunInOrderBeforeTheValidator) {
  auto currency = rule("currency", {dotted("order.currency")});
  currency.transforms = {omt::mapping::Transform::trim, omt::mapping::Transform::upper};
  currency.validator = omt::mapping::Validator::iso4217;
  currency.on_invalid = omt::mapping::OnInvalid::fail;
  currency.error = "bad currency";
  const omt::mapping::RuleList rules{{currency}};
  EXPECT_EQ(*map(rules, R"({"order":{"currency":" gbp "}})"), R"({"currency":"GBP"})");
  auto bad = map(rules, R"({"order":{"currency":"pounds"}})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "bad currency");
  EXPECT_EQ(bad.error().path, "order.currency");
  EXPECT_EQ(*map(rules, R"({"order":{}})"), "{}");  // absent and not required: nothing to validate
}

TEST_F(HandBuiltRules, PathsSharingAnInternedParentReadItOncePerEvent) {
  // Parent 0 is "a" for both paths; a missing parent is remembered as missing, a found one as found.
  const omt::mapping::RuleList rules{{rule("x", {dotted("a.x", 0)}), rule("y", {dotted("a.y", 0)}),
                                      rule("z", {dotted("b.z", 1), dotted("a.x", 0)})}};
  EXPECT_EQ(*map(rules, R"({"a":{"x":1,"y":2},"b":{"z":3}})"), R"({"x":1,"y":2,"z":3})");
  EXPECT_EQ(*map(rules, R"({"b":{"z":3}})"), R"({"z":3})");
  EXPECT_EQ(*map(rules, R"({"a":{"x":1}})"), R"({"x":1,"z":1})");
  EXPECT_EQ(*map(rules, R"({"a":[{"x":1}]})"), "{}");  // "x" is not an index of an array
}
