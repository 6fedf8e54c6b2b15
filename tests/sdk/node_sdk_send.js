// Sends N events through a real Node SDK to the service, and writes which events the SDK saw acknowledged. Run
// by node_sdk_check.sh with NODE_PATH pointing at the SDK's node_modules.
//   node node_sdk_send.js --sdk rudderstack|segment --url URL --write-key KEY[,KEY...] --events N --out DIR
//                         [--per-tick K] [--first I]
// With several write keys, one SDK client each, the events going to them in turn; --first numbers the events from I
// (several senders at once, their ids apart).
// The SDKs, with their default options but for the service's address:
//   rudderstack: @rudderstack/rudder-sdk-node, dataPlaneUrl (gzip, flushAt 20, 3 retries);
//   segment:     @segment/analytics-node, host (plain JSON, flushAt 15, 10 retries).
// Event i is, in turn: an identify (Ometria contact "sdk-contact-i"), an "Order Completed" with a product
// (order "sdk-order-i"), a custom event "Viewed Product" (custom_event "sdk-event-i"), a page call (skipped).
// Writes DIR/progress (acknowledged count, rewritten as it grows) and, at the end, DIR/acked.jsonl (one
// {"id","type","email"} line per acknowledged event) and DIR/sender.json (counts).
'use strict';
const fs = require('fs');
const path = require('path');

const argument = (name, fallback) => require('./sdk_common').argument('node_sdk_send.js', name, fallback);

const sdk = argument('sdk', 'rudderstack');
const url = argument('url');
const writeKeys = argument('write-key').split(',');
const total = Number(argument('events'));
const first = Number(argument('first', '0'));
const outDir = argument('out');
const perTick = Number(argument('per-tick', '50'));  // events enqueued every 10 ms: a steady stream, not one burst
const deadlineMs = Number(argument('deadline-ms', '180000'));

const errors = new Map();  // message -> count
function countError(key) { errors.set(key, (errors.get(key) || 0) + 1); }

// Each SDK as the same three operations: its version, a call with a callback (err), and "send what is queued".
const sdks = {
  rudderstack(writeKey) {
    const Analytics = require('@rudderstack/rudder-sdk-node');
    const client = new Analytics(writeKey, {
      dataPlaneUrl: url,
      logLevel: 'error',
      // Without a handler a failed flush rejects a promise nobody awaits (the SDK's own automatic flushes).
      errorHandler: (err) => countError(err && err.response ? `HTTP ${err.response.status}` : String(err && (err.code || err.message))),
    });
    return {
      version: require('@rudderstack/rudder-sdk-node/package.json').version,
      call: (call, message, done) => client[call](message, (err) => done(err)),
      // It sends flushAt (20) events a request: flush until its queue is empty.
      flushSome: async () => {
        if (client.queue.length === 0) return false;
        await client.flush().catch(() => {});
        return true;
      },
    };
  },
  segment(writeKey) {
    const { Analytics } = require('@segment/analytics-node');
    const client = new Analytics({ writeKey, host: url });
    client.on('error', (err) => countError(String(err && (err.reason && err.reason.message || err.code || err))));
    let closed = false;
    return {
      version: require('@segment/analytics-node/package.json').version,
      call: (call, message, done) => client[call](message, (err) => done(err)),
      // closeAndFlush sends every queued event and waits for their answers.
      flushSome: async () => {
        if (closed) return false;
        closed = true;
        await client.closeAndFlush({ timeout: deadlineMs }).catch((err) => countError(String(err)));
        return true;
      },
    };
  },
};
if (!sdks[sdk]) {
  console.error(`node_sdk_send.js: --sdk must be one of ${Object.keys(sdks).join(', ')}`);
  process.exit(2);
}
const clients = writeKeys.map((key) => sdks[sdk](key));
const client = {
  version: clients[0].version,
  call: (i, call, message, done) => clients[i % clients.length].call(call, message, done),
  flushSome: async () => (await Promise.all(clients.map((c) => c.flushSome()))).some(Boolean),
};

function eventOf(i) {
  const userId = `sdk-user-${i}`;
  const email = `sdk-${i}@example.com`;
  switch (i % 4) {
    case 0:
      return { call: 'identify', expected: { id: `sdk-contact-${i}`, type: 'contact', email },
        message: { userId, traits: { email, firstName: 'Ann', lastName: 'Lee', listingId: `sdk-contact-${i}` } } };
    case 1:
      return { call: 'track', expected: { id: `sdk-order-${i}`, type: 'order', email },
        message: { userId, event: 'Order Completed', context: { traits: { email } },
          properties: { order_id: `sdk-order-${i}`, grand_total: 25.5, subtotal: 21, currency: 'GBP',
            products: [{ product_id: 'p-1', sku: 'SKU-1', name: 'Hat', unit_price: 10.5, quantity: 2 }] } } };
    case 2:
      return { call: 'track', expected: { id: `sdk-event-${i}`, type: 'custom_event', email },
        message: { userId, event: 'Viewed Product', context: { traits: { email } },
          properties: { event_id: `sdk-event-${i}`, sku: 'SKU-2', colour: 'red' } } };
    default:  // no Ometria record: accepted and skipped
      return { call: 'page', expected: { id: `sdk-page-${i}`, type: 'skipped', email },
        message: { userId, name: 'Basket', properties: { path: '/basket' } } };
  }
}

const acked = [];
let failed = 0;
let lastProgress = -1;
function writeProgress() {
  if (acked.length === lastProgress) return;
  lastProgress = acked.length;
  fs.writeFileSync(path.join(outDir, 'progress.tmp'), String(acked.length));
  fs.renameSync(path.join(outDir, 'progress.tmp'), path.join(outDir, 'progress'));
}
const progressTimer = setInterval(writeProgress, 50);

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function main() {
  const started = Date.now();
  for (let i = first; i < first + total; i += 1) {
    const { call, expected, message } = eventOf(i);
    client.call(i - first, call, message, (err) => {
      if (err) failed += 1;
      else acked.push(expected);
    });
    if ((i - first + 1) % perTick === 0) await sleep(10);
  }
  // Send what is queued until every callback came.
  while (acked.length + failed < total && Date.now() - started < deadlineMs) {
    if (!(await client.flushSome())) await sleep(20);
  }
  clearInterval(progressTimer);
  writeProgress();
  fs.writeFileSync(path.join(outDir, 'acked.jsonl'), acked.map((e) => JSON.stringify(e)).join('\n') + (acked.length ? '\n' : ''));
  const summary = { sdk, sdk_version: client.version, sent: total, acked: acked.length, failed,
    unanswered: total - acked.length - failed, errors: Object.fromEntries(errors), seconds: (Date.now() - started) / 1000 };
  fs.writeFileSync(path.join(outDir, 'sender.json'), JSON.stringify(summary));
  console.log(JSON.stringify(summary));
  process.exit(0);
}

main().catch((err) => {
  console.error('node_sdk_send.js:', err);
  process.exit(1);
});
