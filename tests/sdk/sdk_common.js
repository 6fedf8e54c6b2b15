// What the SDK scripts of tests/sdk/ share: their command-line options, and cutting the bytes a client sent into
// whole HTTP requests, each kept exactly as it came (for the recordings in tests/integration/data/).
'use strict';

// `--name value` from the command line; without a fallback the option is required (exit 2 when missing).
function argument(script, name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0 || at + 1 >= process.argv.length) {
    if (fallback === undefined) {
      console.error(`${script}: --${name} is required`);
      process.exit(2);
    }
    return fallback;
  }
  return process.argv[at + 1];
}

// Calls onRequest(bytes) for each whole request (header block and Content-Length body) that `data` completes on
// a connection; returns what is left over, to be passed back in with the connection's next data.
function takeRequests(pending, data, onRequest) {
  let rest = Buffer.concat([pending, data]);
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return rest;
    const head = rest.subarray(0, headEnd).toString('latin1');
    const length = Number((/\r\ncontent-length: *(\d+)/i.exec(head) || [0, 0])[1]);
    const end = headEnd + 4 + length;
    if (rest.length < end) return rest;
    onRequest(Buffer.from(rest.subarray(0, end)));
    rest = rest.subarray(end);
  }
}

module.exports = { argument, takeRequests };
