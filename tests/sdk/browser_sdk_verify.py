#!/usr/bin/env python3
"""Judges a run of browser_sdk_check.sh: WORK/browser.json (what the browser saw, from browser_sdk_drive.js) and
WORK/received.jsonl (what the fake Ometria accepted). Prints a summary; exit 0 when every check holds, 1 if not.

  python3 tests/sdk/browser_sdk_verify.py WORK

Checks: the SDK's requests stayed on the page's and the service's origins; each preflight and each XHR answer
carried the page's origin in Access-Control-Allow-Origin; each POST got a 2xx; each event the SDK handed over was
stored (and then arrived at the fake as the record below, field by field) or was listed in the answer's "rejected"
with a reason; the page call was skipped; the console showed no error and no exception was thrown. A beacon's
answer is read by nobody (the SDK does not, and DevTools shows none): its events are judged by what arrived.
"""
import datetime
import json
import os
import sys
import time

# The records the page's calls (browser_sdk_drive.js, `calls`) should become, by Ometria id: these fields at least.
EXPECTED = {
    "contact-browser-1": {"@type": "contact", "email": "ann.browser@example.com", "customer_id": "u-browser-1",
                          "firstname": "Ann", "lastname": "Lee", "phone_number": "+447911123456"},
    "event-browser-1": {"@type": "custom_event", "identity_email": "ann.browser@example.com",
                        "identity_account_id": "u-browser-1", "event_type": "wishlist added",
                        "properties": {"sku": "SKU-1", "colour": "red"}},
    "order-browser-1": {"@type": "order", "status": "complete", "grand_total": 25.5, "subtotal": 21, "shipping": 4.5,
                        "currency": "GBP", "coupon_code": "WELCOME",
                        "customer": {"id": "u-browser-1", "email": "ann.browser@example.com"},
                        "lineitems": [{"product_id": "p-1", "sku": "SKU-1", "quantity": 2, "unit_price": 10.5}]},
    # The beacon phase: listingId from identify's integrations.Ometria.
    "contact-browser-2": {"@type": "contact", "email": "bob.browser@example.com", "customer_id": "u-browser-2",
                          "firstname": "Bob"},
    "order-browser-2": {"@type": "order", "status": "complete", "grand_total": 12, "currency": "EUR",
                        "customer": {"id": "u-browser-2", "email": "bob.browser@example.com"},
                        "lineitems": [{"product_id": "p-2", "sku": "SKU-2", "quantity": 2, "unit_price": 6}]},
}
# The calls of each phase, as "type event-or-name".
CALLS = {"xhr": ["identify", "track Wishlist Added", "page Basket", "track Order Completed"],
         "beacon": ["identify", "track Order Completed"]}
ERROR_TYPES = {"error", "assert", "log.error"}


def differences(expected, actual, where=""):
    """The places where `actual` lacks or differs from what `expected` has (lists: item by item, same length)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'record'}: expected an object, got {json.dumps(actual)}"]
        out = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{where}{key}: missing (expected {json.dumps(value)})")
            else:
                out += differences(value, actual[key], f"{where}{key}.")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where.rstrip('.')}: expected {len(expected)} items, got {json.dumps(actual)}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += differences(e, a, f"{where.rstrip('.')}[{i}].")
        return out
    if expected != actual:
        return [f"{where.rstrip('.')}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]
    return []


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def record_id(event):
    """The Ometria id the page gave the event's record (browser_sdk_drive.js): listingId, order_id or event_id."""
    traits = (event.get("context") or {}).get("traits") or {}
    ometria = (event.get("integrations") or {}).get("Ometria") or {}
    if event.get("type") == "identify":
        return traits.get("listingId") or ometria.get("listingId")
    properties = event.get("properties") or {}
    return properties.get("order_id") or properties.get("event_id") or event.get("messageId")


def answered_skips(report):
    """How many events the answers the SDK could read said were skipped."""
    total = 0
    for r in report["requests"]:
        if r["method"] == "POST" and r["type"] != "Ping":
            try:
                total += json.loads(r["answer"]).get("skipped", 0)
            except (TypeError, ValueError):
                pass
    return total


def main(work):
    report = json.load(open(os.path.join(work, "browser.json")))
    origin = report["page_origin"]
    problems = []

    def problem(text):
        problems.append(text)

    for phase in report["timed_out"]:
        problem(f"{phase}: timed out waiting for the SDK's requests to be answered")
    for url in report["elsewhere"]:
        problem(f"the page sent a request elsewhere: {url}")
    for request in report["unexpected_page_requests"]:
        problem(f"the page asked its own server for {request}")
    for failure in report["failed"]:
        problem(f"a request failed in the browser: {json.dumps(failure)}")
    for exception in report["exceptions"]:
        problem(f"an exception was thrown: {exception}")
    errors = [m for m in report["console"] if m["type"] in ERROR_TYPES]
    warnings = [m for m in report["console"] if m["type"] not in ERROR_TYPES]
    for message in errors:
        problem(f"console {message['type']}: {message['text']}")

    handed = {phase: [] for phase in CALLS}
    stored, skipped, rejected = {}, [], []
    for r in report["requests"]:
        beacon = r["type"] == "Ping"
        allowed = (r.get("response_headers") or {}).get("Access-Control-Allow-Origin")
        if not beacon and allowed != origin:
            problem(f"{r['method']} {r['path']}: Access-Control-Allow-Origin {allowed!r}, not the page's {origin}")
        if r["method"] == "OPTIONS":
            if r["status"] != 204:
                problem(f"preflight {r['path']}: status {r['status']}")
            continue
        body = r["event"] if isinstance(r["event"], dict) else {}
        events = body["batch"] if isinstance(body.get("batch"), list) else [body]
        names = [f"{e.get('type')} {e.get('event') or e.get('name') or ''}".strip() for e in events]
        handed.setdefault(r["phase"], []).extend(names)
        label = f"{r['method']} {r['path']} ({', '.join(names)})"
        if not 200 <= r["status"] < 300:
            problem(f"{label}: status {r['status']}: the SDK drops the events or retries them")
            continue
        if beacon:
            for name, event in zip(names, events):
                if event.get("type") == "page":
                    skipped.append(name)
                else:
                    stored[record_id(event)] = event
            continue
        try:
            answer = json.loads(r["answer"])
        except (TypeError, ValueError):
            problem(f"{label}: the answer is not JSON: {r['answer']!r}")
            continue
        rejected_indexes = set()
        for item in answer.get("rejected", []):
            if not item.get("error"):
                problem(f"{label}: rejected without a reason: {json.dumps(item)}")
            rejected_indexes.add(item.get("index"))
            rejected.append(f"{names[item['index']] if item.get('index') in range(len(names)) else '?'}: {item.get('error')}")
        if answer.get("accepted", 0) + answer.get("skipped", 0) + len(rejected_indexes) != len(events):
            problem(f"{label}: the answer does not account for its {len(events)} events: {r['answer']}")
        for i, (name, event) in enumerate(zip(names, events)):
            if i in rejected_indexes:
                continue
            if event.get("type") == "page":
                skipped.append(name)
            else:
                stored[record_id(event)] = event
    for phase, calls in CALLS.items():
        if handed.get(phase) != calls:
            problem(f"{phase}: expected the calls {calls} sent, got {handed.get(phase)}")
    if len(skipped) != 1 or skipped[0] != "page Basket" or answered_skips(report) != 1:
        problem(f"expected the page call alone to be skipped, got {skipped}")

    # The fake's side: wait for the records of the stored events, then compare them field by field.
    received = {}
    deadline = time.monotonic() + 30
    while True:
        path = os.path.join(work, "received.jsonl")
        if os.path.exists(path):
            for line in open(path):
                if line.endswith("\n"):
                    record = json.loads(line)["record"]
                    received.setdefault(record.get("id"), record)
        if all(i in received for i in stored) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for rid, event in stored.items():
        record = received.get(rid)
        if rid not in EXPECTED:
            problem(f"stored an event the page did not send: {rid}")
        elif record is None:
            problem(f"{rid}: handed over (and not rejected) but never arrived at the fake Ometria")
        else:
            for d in differences(EXPECTED[rid], record):
                problem(f"{rid}: {d}")
            if "timestamp" in record:  # the SDK's originalTimestamp, or the time the service computes from it
                skew = abs((parse_time(record["timestamp"]) - parse_time(event["originalTimestamp"])).total_seconds())
                if skew > 300:
                    problem(f"{rid}: timestamp {record['timestamp']} is far from the SDK's {event['originalTimestamp']}")
    for rid in received:
        if rid not in EXPECTED:
            problem(f"the fake received a record nobody sent: {rid}")

    posts = [r for r in report["requests"] if r["method"] == "POST"]
    print(f"browser:                    {report['chromium']}, page {origin}, data plane {report['data_plane']}")
    print(f"requests to the service:    {len(report['requests']) - len(posts)} preflights, {len(posts)} POSTs: "
          + ", ".join(f"{r['path'].split('?')[0]} {r['status']}" for r in posts))
    for phase, names in handed.items():
        print(f"events handed over ({phase}):{' ' * (7 - len(phase))}{len(names)} ({', '.join(names)})")
    print(f"stored / skipped / rejected: {len(stored)} / {len(skipped)} / {len(rejected)}"
          + (f" {rejected}" if rejected else ""))
    print(f"arrived at the fake:        {sum(1 for i in stored if i in received)} of {len(stored)} "
          f"({', '.join(sorted(i for i in received if i))})")
    print(f"console:                    {len(errors)} errors, {len(warnings)} other messages"
          + "".join(f"\n    {m['type']}: {m['text']}" for m in warnings))
    if report.get("recorded"):
        print(f"recorded:                   {', '.join(n + '.http' for n in report['recorded'])}")
    for p in problems:
        print("PROBLEM:", p)
    print("RESULT:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
