#!/usr/bin/env python3
"""Writes N events of 3-4 KB as JSON Lines (the load tests' mixed events: a third orders with 3 line items, a third
identify, a third custom events; make_payloads.py), each with its own messageId, listing and order id, and the same
events as /v1/batch bodies of 100 (one a line, for the ingest side of bench/load/import.sh).

Usage: make_import_events.py N EVENTS.jsonl BATCHES.jsonl
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_payloads  # noqa: E402


def event(n):
    kind = n % 3
    e = make_payloads.order(n) if kind == 0 else make_payloads.identify(n) if kind == 1 else make_payloads.custom_event(n)
    return e


def main():
    count, events_path, batches_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(events_path, "w") as events, open(batches_path, "w") as batches:
        batch = []
        for n in range(count):
            line = json.dumps(event(n), separators=(",", ":"))
            events.write(line + "\n")
            batch.append(line)
            if len(batch) == 100:
                batches.write('{"batch":[' + ",".join(batch) + "]}\n")
                batch = []
        if batch:
            batches.write('{"batch":[' + ",".join(batch) + "]}\n")


if __name__ == "__main__":
    main()
