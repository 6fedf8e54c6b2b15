// import::check_record: what a native Ometria record of an import must be, one rule at a time.
#include <gtest/gtest.h>

#include <string>

#include "omt/import/record_check.hpp"

namespace {

using omt::import::check_record;
using omt::ometria::RecordType;

void expect_fault(const std::string& json, const std::string& field, const std::string& reason_part) {
  auto checked = check_record(json);
  ASSERT_FALSE(checked) << json;
  EXPECT_EQ(checked.error().path, field) << json;
  EXPECT_NE(checked.error().message.find(reason_part), std::string::npos) << checked.error().message;
}

TEST(ImportRecordCheck, AcceptsEachTypeWithWhatItRequiresAndMinifies) {
  auto contact = check_record(R"({ "@type": "contact", "id": "c1", "email": "a@example.com" })");
  ASSERT_TRUE(contact) << contact.error().message;
  EXPECT_EQ(contact->type, RecordType::contact);
  EXPECT_EQ(contact->json, R"({"@type":"contact","id":"c1","email":"a@example.com"})");
  auto order = check_record(
      R"({"@type":"order","id":"o1","timestamp":"2024-05-01T10:00:00Z","grand_total":12.5,"currency":"GBP"})");
  ASSERT_TRUE(order) << order.error().message;
  EXPECT_EQ(order->type, RecordType::order);
  auto product = check_record(R"({"@type":"product","id":42,"title":"Mug","price":9})");
  ASSERT_TRUE(product) << product.error().message;
  EXPECT_EQ(product->type, RecordType::product);
  auto event = check_record(
      R"({"@type":"custom_event","id":"e1","event_type":"wishlist_add","timestamp":"2024-05-01T10:00:00+01:00","profile_id":"p1"})");
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->type, RecordType::custom_event);
}

TEST(ImportRecordCheck, NamesTheFieldAtFault) {
  expect_fault("not json", "", "not valid JSON");
  expect_fault("[1,2]", "", "expected a JSON object");
  expect_fault(R"({"id":"x"})", "@type", "is required");
  expect_fault(R"({"@type":"basket","id":"x"})", "@type", "one of contact, order, product, custom_event");
  expect_fault(R"({"@type":"contact","email":"a@example.com"})", "id", "is required");
  expect_fault(R"({"@type":"contact","id":"","email":"a@example.com"})", "id", "non-empty string or an integer");
  expect_fault(R"({"@type":"contact","id":"c"})", "email", "is required");
  expect_fault(R"({"@type":"contact","id":"c","email":7})", "email", "non-empty string");
  expect_fault(R"({"@type":"order","id":"o","grand_total":1,"currency":"GBP"})", "timestamp", "is required");
  expect_fault(R"({"@type":"order","id":"o","timestamp":"yesterday","grand_total":1,"currency":"GBP"})", "timestamp", "ISO-8601");
  expect_fault(R"({"@type":"order","id":"o","timestamp":"2024-05-01T10:00:00Z","grand_total":"1","currency":"GBP"})",
               "grand_total", "expected a number");
  expect_fault(R"({"@type":"product","id":"p","price":1})", "title", "is required");
  expect_fault(R"({"@type":"product","id":"p","title":"Mug"})", "price", "is required");
  expect_fault(R"({"@type":"custom_event","id":"e","timestamp":"2024-05-01T10:00:00Z","profile_id":"p"})", "event_type", "is required");
  expect_fault(R"({"@type":"custom_event","id":"e","event_type":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","timestamp":"2024-05-01T10:00:00Z","profile_id":"p"})",
               "event_type", "under 32 characters");
  expect_fault(R"({"@type":"custom_event","id":"e","event_type":"x","timestamp":"2024-05-01T10:00:00Z"})", "identity_email",
               "needs identity_email");
}

TEST(ImportRecordCheck, RefusesARecordOverSixtyKilobytes) {
  const std::string big = R"({"@type":"contact","id":"c","email":"a@example.com","note":")" + std::string(61 * 1024, 'x') + "\"}";
  expect_fault(big, "", "larger than Ometria's 60 KB limit");
}

}  // namespace
