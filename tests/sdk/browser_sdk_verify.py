#!/usr/bin/env python3
"""Judges a run of browser_sdk_check.sh: WORK/browser.json (what the browser saw, from browser_sdk_drive.js) and
WORK/received.jsonl (what the fake Ometria accepted). Prints a summary; exit 0 when every check holds, 1 if not.

  python3 tests/sdk/browser_sdk_verify.py WORK

Checks: the SDK's requests stayed on the page's and the service's origins; each preflight and each answer carried
the page's origin in Access-Control-Allow-Origin; each POST got a 2xx; each event the SDK handed over was stored
(and then arrived at the fake as the record below, field by field) or was listed in the answer's "rejected" with
a reason; the page call was skipped; the console showed no error and no exception was thrown.
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
}
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


def main(work):
    report = json.load(open(os.path.join(work, "browser.json")))
    origin = report["page_origin"]
    problems = []

    def problem(text):
        problems.append(text)

    if report["timed_out"]:
        problem("timed out waiting for the SDK's requests to be answered")
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

    handed, stored, skipped, rejected = [], {}, [], []
    for r in report["requests"]:
        allowed = (r.get("response_headers") or {}).get("Access-Control-Allow-Origin")
        if allowed != origin:
            problem(f"{r['method']} {r['path']}: Access-Control-Allow-Origin {allowed!r}, not the page's {origin}")
        if r["method"] == "OPTIONS":
            if r["status"] != 204:
                problem(f"preflight {r['path']}: status {r['status']}")
            continue
        event = r["event"] or {}
        name = f"{event.get('type')} {event.get('event') or event.get('name') or ''}".strip()
        handed.append(name)
        if not 200 <= r["status"] < 300:
            problem(f"POST {r['path']} ({name}): status {r['status']}: the SDK drops the event and logs an error")
            continue
        try:
            answer = json.loads(r["answer"])
        except (TypeError, ValueError):
            problem(f"POST {r['path']} ({name}): the answer is not JSON: {r['answer']!r}")
            continue
        for item in answer.get("rejected", []):
            if not item.get("error"):
                problem(f"POST {r['path']} ({name}): rejected without a reason: {json.dumps(item)}")
            rejected.append(f"{name}: {item.get('error')}")
        if answer.get("skipped"):
            skipped.append(name)
        if answer.get("accepted"):
            stored[name] = event
    if len(handed) != 4:
        problem(f"expected 4 calls sent (identify, track, page, order), got {len(handed)}: {handed}")
    if skipped != ["page Basket"]:
        problem(f"expected the page call alone to be skipped, got {skipped}")

    # The fake's side: wait for the records of the stored events, then compare them field by field.
    expected_ids = {"identify": "contact-browser-1", "track Wishlist Added": "event-browser-1",
                    "track Order Completed": "order-browser-1"}
    wanted = {expected_ids[n]: e for n, e in stored.items() if n in expected_ids}
    for name in stored:
        if name not in expected_ids:
            problem(f"stored an event the page did not send: {name}")
    received = {}
    deadline = time.monotonic() + 30
    while True:
        path = os.path.join(work, "received.jsonl")
        if os.path.exists(path):
            for line in open(path):
                if line.endswith("\n"):
                    record = json.loads(line)["record"]
                    received.setdefault(record.get("id"), record)
        if all(i in received for i in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for record_id, event in wanted.items():
        record = received.get(record_id)
        if record is None:
            problem(f"{record_id}: acknowledged to the SDK but never arrived at the fake Ometria")
            continue
        for d in differences(EXPECTED[record_id], record):
            problem(f"{record_id}: {d}")
        if "timestamp" in record:  # the SDK's originalTimestamp, or the time the service computes from it
            skew = abs((parse_time(record["timestamp"]) - parse_time(event["originalTimestamp"])).total_seconds())
            if skew > 300:
                problem(f"{record_id}: timestamp {record['timestamp']} is far from the SDK's {event['originalTimestamp']}")
    for record_id in received:
        if record_id not in EXPECTED:
            problem(f"the fake received a record nobody sent: {record_id}")

    posts = [r for r in report["requests"] if r["method"] == "POST"]
    print(f"browser:                    {report['chromium']}, page {origin}, data plane {report['data_plane']}")
    print(f"requests to the service:    {len(report['requests']) - len(posts)} preflights, {len(posts)} POSTs: "
          + ", ".join(f"{r['method']} {r['path']} {r['status']}" for r in posts))
    print(f"events handed over:         {len(handed)} ({', '.join(handed)})")
    print(f"stored / skipped / rejected: {len(stored)} / {len(skipped)} / {len(rejected)}"
          + (f" {rejected}" if rejected else ""))
    print(f"arrived at the fake:        {sum(1 for i in wanted if i in received)} of {len(wanted)} "
          f"({', '.join(sorted(received))})")
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
