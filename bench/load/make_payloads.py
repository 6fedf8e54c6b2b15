#!/usr/bin/env python3
"""Writes the three load-test bodies into a directory (standard library only):

  identify.json      processor body with 1 identify event
  processor100.json  processor body with 100 mixed events (a third orders with 3 line items, a third identify,
                     a third custom events)
  router100.json     the same 100 events as a router body ({"input": [...], "destType": "ometria"})
  batch100.json      the same 100 messages as an ingest body for POST /v1/batch ({"batch": [...]})
  processor100_compacted.json, router100_compacted.json
                     processor100 and router100 in rudder-server's compacted form (sent with
                     X-Content-Format: json+compactedv1): inputs of {message, metadata}, the destination once in
                     "destinations" and the connection once in "connections"

Each event is 3-4 KB with the full context a RudderStack JavaScript SDK sends (app, library, os, screen, page,
userAgent, campaign, device, network, traits...).
"""
import json
import os
import sys

DESTINATION = {
    "ID": "2EZuWvY8pc4bKmh5z0xZ6NtJ6Zk",
    "Name": "ometria-prod",
    "Config": {"apiKey": "bench-api-key", "marketingOptin": "EXPLICITLY_OPTEDOUT",
               "allowMarketing": False, "allowTransactional": False},
    "Enabled": True,
    "WorkspaceID": "ws-1",
    "Transformations": [],
}


def context(n):
    return {
        "app": {"build": "1.0.0", "name": "RudderLabs JavaScript SDK", "namespace": "com.rudderlabs.javascript",
                "version": "2.48.1", "installType": "npm"},
        "library": {"name": "RudderLabs JavaScript SDK", "version": "2.48.1"},
        "locale": "en-GB",
        "timezone": "Europe/London",
        "os": {"name": "Mac OS", "version": "10.15.7"},
        "screen": {"density": 2, "width": 1728, "height": 1117, "innerWidth": 1728, "innerHeight": 960},
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/120.0.0.0 Safari/537.36",
        "page": {"path": "/collections/summer/linen-shirt", "referrer": "https://www.google.com/",
                 "referring_domain": "www.google.com", "search": "?utm_source=google&utm_medium=cpc",
                 "title": "Linen shirt - Summer collection",
                 "url": "https://shop.example.com/collections/summer/linen-shirt?utm_source=google&utm_medium=cpc",
                 "tab_url": "https://shop.example.com/collections/summer/linen-shirt",
                 "initial_referrer": "https://www.google.com/", "initial_referring_domain": "www.google.com"},
        "campaign": {"name": "summer-sale", "source": "google", "medium": "cpc", "term": "linen shirt",
                     "content": "ad-variant-b"},
        "device": {"id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB", "manufacturer": "Apple", "model": "MacBookPro18,3",
                   "type": "desktop"},
        "network": {"bluetooth": False, "carrier": "", "cellular": False, "wifi": True},
        "ip": "203.0.113.%d" % (n % 250),
        "userAgentData": {"brands": [{"brand": "Not_A Brand", "version": "8"}, {"brand": "Chromium", "version": "120"},
                                     {"brand": "Google Chrome", "version": "120"}],
                          "mobile": False, "platform": "macOS"},
        "instanceId": "3f6c1b2a-9d7e-4c5b-8a1f-2e3d4c5b6a7f",
        "source": {"name": "web-shop", "version": "2024.05.2"},
        "sessionId": 1716391234567,
        "sessionStart": False,
        "consentManagement": {"deniedConsentIds": [], "allowedConsentIds": ["C0001", "C0002", "C0003"]},
        "traits": {"email": "customer%d@example.com" % n, "listingId": "listing-%d" % n, "firstName": "Alex",
                   "lastName": "Morgan", "phone": "+44 20 7946 0958", "gender": "female", "countryId": "GB",
                   "dateOfBirth": "1990-04-12", "timestampAcquired": "2023-11-02T09:15:00Z", "storeIds": ["uk", "ie"],
                   "addToLists": ["newsletter"], "loyaltyTier": "gold", "lifetimeValue": 1234.5,
                   "preferredCategory": "menswear", "signupSource": "checkout", "emailVerified": True,
                   "lastOrderAt": "2024-05-01T18:22:10Z", "orderCount": 7, "averageOrderValue": 87.25,
                   "favouriteStore": "London Covent Garden",
                   "sizePreferences": {"tops": "M", "trousers": "32R", "shoes": "9"}, "referralCode": "ALEX-7F3K",
                   "address": {"city": "London", "country": "GB", "postalCode": "EC1A 1BB",
                               "street": "1 Example Street"},
                   "marketingConsent": True},
    }


def envelope(n, kind):
    return {
        "type": kind,
        "anonymousId": "a1b2c3d4-e5f6-4a5b-8c9d-%d" % (100000000000 + n),
        "userId": "user-%d" % n,
        "messageId": "msg-%d-6f1c2b7e-0d41-4b7e-9a55-3c2d1e0f9a8b" % n,
        "rudderId": "e3e907f1-f79a-444b-b91d-da47488f8273",
        "channel": "web",
        "request_ip": "203.0.113.7",
        "originalTimestamp": "2024-05-22T10:15:30.123Z",
        "sentAt": "2024-05-22T10:15:30.456Z",
        "receivedAt": "2024-05-22T10:15:31.001Z",
        "timestamp": "2024-05-22T10:15:30.668Z",
        "context": context(n),
    }


def identify(n):
    e = envelope(n, "identify")
    e["integrations"] = {"All": True, "Ometria": {"listingId": "listing-%d" % n,
                                                  "marketingOptin": "EXPLICITLY_OPTEDIN",
                                                  "allowMarketing": "true", "allowTransactional": True}}
    return e


def custom_event(n):
    e = envelope(n, "track")
    e["event"] = "Product Viewed"
    e["properties"] = {"event_id": "evt-%d" % n, "product_id": "SKU-1042", "sku": "SKU-1042-M-BLU",
                       "name": "Linen shirt", "category": "Shirts", "brand": "Example", "variant": "Blue / M",
                       "price": 49.99, "currency": "GBP", "position": 3,
                       "url": "https://shop.example.com/p/linen-shirt",
                       "image_url": "https://cdn.example.com/p/linen-shirt.jpg", "list_id": "summer", "value": 49.99}
    e["integrations"] = {"All": True}
    return e


def order(n):
    def item(k):
        return {"product_id": "SKU-10%d" % k, "variant_id": "SKU-10%d-M" % k, "sku": "SKU-10%d-M-BLU" % k,
                "name": "Linen shirt %d" % k, "quantity": k, "unit_price": 49.99, "subtotal": 99.98}

    e = envelope(n, "track")
    e["event"] = "Order Completed"
    e["properties"] = {"order_id": "ord-%d" % n, "timestamp": "2024-05-22T10:15:30Z", "grand_total": 334.93,
                       "subtotal": 299.94, "discount": 10, "shipping": 4.99, "tax": 24.99, "currency": "GBP",
                       "web_id": "web-1", "channel": "web", "store": "uk",
                       "shipping_method": "standard",
                       "billing_address": {"city": "London", "state": "England", "country": "GB",
                                           "postalCode": "EC1A 1BB"},
                       "products": [item(1), item(2), item(3)]}
    e["integrations"] = {"All": True}
    return e


def wrapped(n, message):
    return {"message": message,
            "metadata": {"jobId": n + 1, "destinationId": DESTINATION["ID"], "workspaceId": "ws-1",
                         "sourceId": "src-1"},
            "destination": DESTINATION}


CONNECTION = {"sourceId": "src-1", "destinationId": DESTINATION["ID"], "enabled": True, "config": {},
              "processorEnabled": True}


def compacted(events):
    """rudder-server's CompactedTransformRequest: each destination and connection once, keyed as the inputs refer
    to them (metadata.destinationId, and metadata.sourceId:metadata.destinationId)."""
    body = {"input": [], "destinations": {}, "connections": {}}
    for e in events:
        meta = e["metadata"]
        body["input"].append({"message": e["message"], "metadata": meta})
        body["destinations"][meta["destinationId"]] = e["destination"]
        body["connections"]["%s:%s" % (meta["sourceId"], meta["destinationId"])] = CONNECTION
    return body


def mixed(count):
    makers = (order, identify, custom_event)
    return [wrapped(i, makers[i % 3](i)) for i in range(count)]


def dump(path, value):
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))
    return os.path.getsize(path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    events = mixed(100)
    sizes = [len(json.dumps(e, separators=(",", ":"))) for e in events]
    print("event sizes: %d..%d bytes" % (min(sizes), max(sizes)), file=sys.stderr)
    dump(os.path.join(out, "identify.json"), [wrapped(1, identify(1))])
    dump(os.path.join(out, "processor100.json"), events)
    dump(os.path.join(out, "router100.json"), {"input": events, "destType": "ometria"})
    dump(os.path.join(out, "batch100.json"), {"batch": [e["message"] for e in events]})
    dump(os.path.join(out, "processor100_compacted.json"), compacted(events))
    dump(os.path.join(out, "router100_compacted.json"), dict(compacted(events), destType="ometria"))


if __name__ == "__main__":
    main()
