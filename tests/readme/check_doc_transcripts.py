#!/usr/bin/env python3
"""Runs the `$ command` transcripts of the docs against the real service and checks that every answer they show
is the one the service gives, so docs/ cannot drift from the code (README.md has run_readme_commands.py).

A transcript is a ```sh block whose lines start with "$ ". A command is its "$ " line plus the lines after it that
start with white space; the lines that follow, up to a blank line or the next "$ ", are its answer. Each answer
line must be printed by the command ("..." stands for any text; a trailing "   (400)" notes the HTTP status and is
not part of the answer; lines may come in any order, as a curl -i transcript shows only the headers that matter).
Commands that hold "..." (placeholders) or need what CI cannot fetch (DOCS[...]["skip"]) are listed, not run.

Each document names its setup below: the configuration it shows (its first ```json block holding "sources"),
the environment its secrets come from, and the fake Ometria its examples were run against.

Usage: check_doc_transcripts.py [REPO_ROOT]   (prints "N passed, M failed")
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shown_answers import missing_lines  # noqa: E402

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.join(ROOT, "build", "ometria-transformer")
FAKE = os.path.join(ROOT, "build", "tests", "fake-ometria")

DOCS = {
    "docs/ingest.md": {
        "env": {"OMETRIA_API_KEY": "my-ometria-key", "WEB_WEBHOOK_TOKEN": "tok_web_456"},
        "fake": ["--listen", "127.0.0.1:9191", "--keys", "my-ometria-key"],
        "ometria": {"endpoint": "http://127.0.0.1:9191/v2/push", "allow_plain_http": True},
        "skip": ("tests/sdk/",),  # downloads the SDK from npm: run by hand, its requests are replayed in CI
    },
}

STATUS_NOTE = re.compile(r"\s{2,}\(\d{3}\)\s*$")


def transcripts(text):
    """[(command, [expected lines])] in document order."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        lines = block.splitlines()
        if not any(l.startswith("$ ") for l in lines):
            continue
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            command = [lines[i][2:]]
            i += 1
            while i < len(lines) and lines[i][:1] in (" ", "\t") and lines[i].strip():
                command.append(lines[i])
                i += 1
            expected = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("$ "):
                expected.append(STATUS_NOTE.sub("", lines[i]))
                i += 1
            found.append(("\n".join(command), expected))
    return found


def first_config(text):
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.S):
        if '"sources"' in block:
            return json.loads(block)
    raise SystemExit("no ```json configuration with \"sources\" in the document")




def wait_ready(url, proc, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except Exception:
            time.sleep(0.1)
    return False


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def check(doc, setup):
    with open(os.path.join(ROOT, doc), encoding="utf-8") as fh:
        text = fh.read()
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="omt-doc-") as work:
        config = first_config(text)
        config["server"] = {"listen": "127.0.0.1:9090"}
        config.setdefault("queue", {})["path"] = os.path.join(work, "queue.db")
        config["ometria"] = setup["ometria"]
        config_path = os.path.join(work, "config.json")
        with open(config_path, "w") as fh:
            json.dump(config, fh)
        env = dict(os.environ, **setup["env"])
        fake = subprocess.Popen([FAKE] + setup["fake"] + ["--out", os.devnull], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        log = open(os.path.join(work, "serve.log"), "wb")
        server = subprocess.Popen([BINARY, "serve", "--config", config_path], env=env, stdout=log, stderr=log)
        try:
            if not wait_ready("http://127.0.0.1:9090/health", server):
                log.flush()
                print("FAIL %s: the service did not start:\n%s" % (doc, open(log.name).read()[-2000:]))
                return 0, 1
            for command, expected in transcripts(text):
                label = "%s: %s" % (doc, command.splitlines()[0][:70])
                if "..." in command or any(s in command for s in setup["skip"]):
                    print("not run  %s" % label)
                    continue
                out = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60).stdout
                missing = missing_lines(expected, out.decode(errors="replace"))
                if missing:
                    failed += 1
                    print("FAIL %s\n  shown but not printed:\n    %s\n  printed:\n%s" %
                          (label, "\n    ".join(missing), out.decode(errors="replace")[-2000:]))
                else:
                    passed += 1
                    print("ok   %s" % label)
        finally:
            stop(server)
            stop(fake)
            log.close()
    return passed, failed


def main():
    passed = failed = 0
    for doc, setup in DOCS.items():
        p, f = check(doc, setup)
        passed, failed = passed + p, failed + f
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
