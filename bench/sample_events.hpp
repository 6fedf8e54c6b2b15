// Realistic RudderStack events (3-4 KB each, with the full context a JavaScript SDK sends) for benchmarks.
#pragma once

#include <string>

namespace omt::bench {

inline std::string context_json(int n) {
  const std::string id = std::to_string(n);
  return R"({"app":{"build":"1.0.0","name":"RudderLabs JavaScript SDK","namespace":"com.rudderlabs.javascript","version":"2.48.1","installType":"npm"},)"
         R"("library":{"name":"RudderLabs JavaScript SDK","version":"2.48.1"},"locale":"en-GB","timezone":"Europe/London",)"
         R"("os":{"name":"Mac OS","version":"10.15.7"},"screen":{"density":2,"width":1728,"height":1117,"innerWidth":1728,"innerHeight":960},)"
         R"("userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",)"
         R"("page":{"path":"/collections/summer/linen-shirt","referrer":"https://www.google.com/","referring_domain":"www.google.com","search":"?utm_source=google&utm_medium=cpc",)"
         R"("title":"Linen shirt - Summer collection","url":"https://shop.example.com/collections/summer/linen-shirt?utm_source=google&utm_medium=cpc",)"
         R"("tab_url":"https://shop.example.com/collections/summer/linen-shirt","initial_referrer":"https://www.google.com/","initial_referring_domain":"www.google.com"},)"
         R"("campaign":{"name":"summer-sale","source":"google","medium":"cpc","term":"linen shirt","content":"ad-variant-b"},)"
         R"("device":{"id":"B5372DB0-C21E-11E4-8DFC-AA07A5B093DB","manufacturer":"Apple","model":"MacBookPro18,3","type":"desktop"},)"
         R"("network":{"bluetooth":false,"carrier":"","cellular":false,"wifi":true},"ip":"203.0.113.)" + std::to_string(n % 250) + R"(",)"
         R"("userAgentData":{"brands":[{"brand":"Not_A Brand","version":"8"},{"brand":"Chromium","version":"120"},{"brand":"Google Chrome","version":"120"}],"mobile":false,"platform":"macOS"},)"
         R"("instanceId":"3f6c1b2a-9d7e-4c5b-8a1f-2e3d4c5b6a7f","source":{"name":"web-shop","version":"2024.05.2"},)"
         R"("sessionId":1716391234567,"sessionStart":false,"consentManagement":{"deniedConsentIds":[],"allowedConsentIds":["C0001","C0002","C0003"]},)"
         R"("traits":{"email":"customer)" + id + R"(@example.com","listingId":"listing-)" + id + R"(","firstName":"Alex","lastName":"Morgan",)"
         R"("phone":"+44 20 7946 0958","gender":"female","countryId":"GB","dateOfBirth":"1990-04-12","timestampAcquired":"2023-11-02T09:15:00Z",)"
         R"("storeIds":["uk","ie"],"addToLists":["newsletter"],"loyaltyTier":"gold","lifetimeValue":1234.5,"preferredCategory":"menswear",)"
         R"("signupSource":"checkout","emailVerified":true,"lastOrderAt":"2024-05-01T18:22:10Z","orderCount":7,"averageOrderValue":87.25,)"
         R"("favouriteStore":"London Covent Garden","sizePreferences":{"tops":"M","trousers":"32R","shoes":"9"},"referralCode":"ALEX-7F3K",)"
         R"("address":{"city":"London","country":"GB","postalCode":"EC1A 1BB","street":"1 Example Street"},"marketingConsent":true}})";
}

inline std::string envelope(int n) {
  const std::string id = std::to_string(n);
  return R"("anonymousId":"a1b2c3d4-e5f6-4a5b-8c9d-)" + std::to_string(100000000000 + n) + R"(","userId":"user-)" + id +
         R"(","messageId":"msg-)" + id + R"(-6f1c2b7e-0d41-4b7e-9a55-3c2d1e0f9a8b","rudderId":"e3e907f1-f79a-444b-b91d-da47488f8273",)"
         R"("channel":"web","request_ip":"203.0.113.7","originalTimestamp":"2024-05-22T10:15:30.123Z","sentAt":"2024-05-22T10:15:30.456Z",)"
         R"("receivedAt":"2024-05-22T10:15:31.001Z","timestamp":"2024-05-22T10:15:30.668Z","context":)" + context_json(n);
}

inline std::string identify_event(int n) {
  return R"({"type":"identify",)" + envelope(n) +
         R"(,"integrations":{"All":true,"Ometria":{"listingId":"listing-)" + std::to_string(n) +
         R"(","marketingOptin":"EXPLICITLY_OPTEDIN","allowMarketing":"true","allowTransactional":true}}})";
}

inline std::string custom_event(int n) {
  return R"({"type":"track","event":"Product Viewed",)" + envelope(n) +
         R"(,"properties":{"event_id":"evt-)" + std::to_string(n) + R"(","product_id":"SKU-1042","sku":"SKU-1042-M-BLU","name":"Linen shirt",)"
         R"("category":"Shirts","brand":"Example","variant":"Blue / M","price":49.99,"currency":"GBP","position":3,"url":"https://shop.example.com/p/linen-shirt",)"
         R"("image_url":"https://cdn.example.com/p/linen-shirt.jpg","list_id":"summer","value":49.99},"integrations":{"All":true}})";
}

inline std::string order_event(int n) {
  auto item = [](int k) {
    const std::string id = std::to_string(k);
    return R"({"product_id":"SKU-10)" + id + R"(","variant_id":"SKU-10)" + id + R"(-M","sku":"SKU-10)" + id +
           R"(-M-BLU","name":"Linen shirt )" + id + R"(","quantity":)" + std::to_string(k) +
           R"(,"unit_price":49.99,"subtotal":99.98,"is_on_sale":false,)"
           R"("variant_options":[{"id":"size-m","type":"size","label":"M"}]})";
  };
  return R"({"type":"track","event":"Order Completed",)" + envelope(n) + R"(,"properties":{"order_id":"ord-)" + std::to_string(n) +
         R"(","timestamp":"2024-05-22T10:15:30Z","grand_total":334.93,"subtotal":299.94,"discount":10,"shipping":4.99,"tax":24.99,)"
         R"("currency":" gbp ","web_id":"web-1","channel":"web","store":"uk","payment_method":"card","shipping_method":"standard","coupon_code":"SUMMER10",)"
         R"("billing_address":{"city":"London","state":"England","country":"GB","postalCode":"EC1A 1BB"},)"
         R"("shipping_address":{"city":"London","country_code":"GB","postcode":"EC1A 1BB"},)"
         R"("products":[)" + item(1) + "," + item(2) + "," + item(3) + R"(]},"integrations":{"All":true}})";
}

inline std::string destination_json() {
  return R"({"ID":"2EZuWvY8pc4bKmh5z0xZ6NtJ6Zk","Name":"ometria-prod","Config":{"apiKey":"bench-api-key","marketingOptin":"EXPLICITLY_OPTEDOUT","allowMarketing":false,"allowTransactional":false},"Enabled":true,"WorkspaceID":"ws-1","Transformations":[]})";
}

// Event i of the mixed 100: a third of them orders with 3 line items, a third identify, a third custom events.
inline std::string mixed_message(int i) {
  return i % 3 == 0 ? order_event(i) : i % 3 == 1 ? identify_event(i) : custom_event(i);
}
inline std::string metadata_json(int i) {
  return R"({"jobId":)" + std::to_string(i + 1) +
         R"(,"destinationId":"2EZuWvY8pc4bKmh5z0xZ6NtJ6Zk","workspaceId":"ws-1","sourceId":"src-1"})";
}

// 100 mixed events as a processor body.
inline std::string processor_body(int count = 100) {
  std::string body = "[";
  for (int i = 0; i < count; ++i) {
    if (i) body += ',';
    body += R"({"message":)" + mixed_message(i) + R"(,"metadata":)" + metadata_json(i) + R"(,"destination":)" +
            destination_json() + "}";
  }
  return body + "]";
}

// The same events in rudder-server's compacted form (X-Content-Format: json+compactedv1), without the closing
// brace, so that a router body can add its destType.
inline std::string compacted_body_open(int count = 100) {
  std::string body = R"({"input":[)";
  for (int i = 0; i < count; ++i) {
    if (i) body += ',';
    body += R"({"message":)" + mixed_message(i) + R"(,"metadata":)" + metadata_json(i) + "}";
  }
  return body + R"(],"destinations":{"2EZuWvY8pc4bKmh5z0xZ6NtJ6Zk":)" + destination_json() +
         R"(},"connections":{"src-1:2EZuWvY8pc4bKmh5z0xZ6NtJ6Zk":{"sourceId":"src-1","destinationId":"2EZuWvY8pc4bKmh5z0xZ6NtJ6Zk",)"
         R"("enabled":true,"config":{},"processorEnabled":true}})";
}

}  // namespace omt::bench
