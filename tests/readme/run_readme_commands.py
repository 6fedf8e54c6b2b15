#!/usr/bin/env python3
"""Runs every ```sh block of README.md and docs/operations.md (DOCUMENTS), in order, from the repository root,
so the documents cannot drift from the code. A block fails when bash exits non-zero, or when an ```output block
follows it and one of that block's lines is not among the lines the commands printed ("..." in a shown line stands
for any text; each shown line must match a printed line of its own, in any order, since answers from concurrent
pushes may come in either order). ```console blocks are shown, not run. Blocks that start a server (`serve ... &`,
or a `serve` line run in the foreground) leave it running for the next blocks; it is stopped when another block
starts a server, and at the end. The two quick-start scripts are skipped here: CI runs scripts/test.sh itself, and
scripts/test.sh runs `scripts/run.sh --version`.

Usage: run_readme_commands.py [REPO_ROOT]   (prints "N passed, M failed")
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shown_answers import missing_lines  # noqa: E402

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = ("scripts/run.sh", "scripts/test.sh")


def blocks(text):
    """[(commands, expected output lines or None)] for every ```sh block, with the ```output block after it."""
    found = []
    for match in re.finditer(r"```sh\n(.*?)```(\s*\n(?:[^`\n][^\n]*\n)*?\s*```output\n(.*?)```)?", text, flags=re.S):
        expected = match.group(3)
        found.append((match.group(1), None if expected is None else [l for l in expected.splitlines() if l.strip()]))
    return found




def wait_port(port, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop(server):
    """Stops every process of the block's group: the block's bash may be gone while its background server runs."""
    if not server:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while group_alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive(server.pid):
        os.killpg(server.pid, signal.SIGKILL)
    if server.poll() is None:
        server.wait(timeout=5)


# The documents whose ```sh blocks are run, in this order (```console blocks are shown, not run).
DOCUMENTS = ("README.md", "docs/operations.md")


def main():
    if wait_port(9090, seconds=0.5):
        print("port 9090 is already in use: the README's examples need it free")
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    server = None
    runs = []
    for document in DOCUMENTS:
        with open(os.path.join(ROOT, document), encoding="utf-8") as fh:
            runs += [(document, number, block, expected) for number, (block, expected) in enumerate(blocks(fh.read()), 1)]
    for document, number, block, expected in runs:
        if any(s in block for s in SKIP):
            continue
        starts_server = re.search(r"ometria-transformer serve", block) is not None
        script = block
        if starts_server:
            stop(server)
            # A foreground `serve` line would block: run it in the background like the ones ending in '&'.
            script = re.sub(r"^(\s*\./build/ometria-transformer serve[^&\n]*)$", r"\1 &", script, flags=re.M)
        # Output goes to a file, not a pipe: a server the block leaves running must not hold our reading end open.
        log_path = os.path.join("/tmp", "omt-readme-block-%d-%s-%d.log" % (os.getpid(), document.replace("/", "_"), number))
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            if starts_server and "&" in script and not re.search(r"curl", block):
                # Only starts a server: wait until it listens, then leave it running.
                ok = wait_port(9090)
                server = proc
            else:
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if starts_server:
                    server = proc  # its background server lives on in the block's process group
                ok = proc.returncode == 0
        with open(log_path, "rb") as fh:
            out = fh.read()
        os.unlink(log_path)
        if ok and "curl" in block:
            # curl -s exits 0 on HTTP errors: an answer must be there and must not be an error object.
            ok = len(out.strip()) > 0 and b'{"error":' not in out
        label = block.strip().splitlines()[0][:70]
        missing = missing_lines(expected, out.decode(errors="replace")) if ok and expected is not None else []
        if missing:
            ok = False
            out = ("the document shows these answers, which the commands did not print:\n  " + "\n  ".join(missing) +
                   "\nthe commands printed:\n").encode() + out
        if ok:
            passed += 1
            print("ok   %s block %d: %s" % (document, number, label))
        else:
            failed += 1
            print("FAIL %s block %d: %s\n%s" % (document, number, label, out.decode(errors="replace")[-2000:]))
    stop(server)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
