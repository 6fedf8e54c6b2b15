// Drives RudderStack's JavaScript SDK (@rudderstack/analytics-js, its bundled build from the npm package) in a real
// headless Chromium over the DevTools protocol (chrome-remote-interface), for browser_sdk_check.sh:
//   node browser_sdk_drive.js --data-plane URL --write-key KEY --sdk-file FILE --chromium BIN --out DIR
//                             [--page-port N] [--record DIR] [--timeout-ms N]
// Serves a shop page on http://127.0.0.1:<page port, default any free one>, another origin than the data plane's, that loads the SDK
// file as a new user's page would (a <script> of the package's dist file) with a source config of its own (load
// option getSourceConfig: no control plane), in two phases, each a page load with fresh storage:
//   xhr:    the default transport: identify, track, page and an "Order Completed" track, one request each;
//   beacon: load option useBeacon: identify (listingId in integrations.Ometria) and an "Order Completed", sent
//           together by navigator.sendBeacon.
// Waits until the SDK's requests to the data plane are answered, then writes DIR/browser.json: each of them
// (phase, method, path, type, status, answer, the events sent), the console's messages, exceptions, failed loads
// and any request to another host. With --record DIR the SDK's data plane is a recording TCP relay to the real one: each
// request the browser sends (preflights too) is written byte for byte to DIR/<name>.http.
// Chromium resolves no host name but 127.0.0.1 (--host-resolver-rules): nothing leaves the machine.
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const CDP = require('chrome-remote-interface');
const common = require('./sdk_common');

const argument = (name, fallback) => common.argument('browser_sdk_drive.js', name, fallback);

const dataPlane = argument('data-plane');
const writeKey = argument('write-key');
const sdkFile = argument('sdk-file');
const chromium = argument('chromium');
const outDir = argument('out');
const recordDir = argument('record', '');
const pagePort = Number(argument('page-port', '0'));
const timeoutMs = Number(argument('timeout-ms', '30000'));  // per phase

// What the page calls in each phase, in this order, and its load options (the ids are the checker's too).
const xhrCalls = [
  ['identify', 'u-browser-1', { email: 'ann.browser@example.com', firstName: 'Ann', lastName: 'Lee',
    listingId: 'contact-browser-1', phone: '+447911123456' }],
  ['track', 'Wishlist Added', { event_id: 'event-browser-1', sku: 'SKU-1', colour: 'red' }],
  ['page', 'Shop', 'Basket', { path: '/basket' }],
  ['track', 'Order Completed', { order_id: 'order-browser-1', grand_total: 25.5, subtotal: 21, discount: 0,
    shipping: 4.5, currency: 'GBP', coupon_code: 'WELCOME',
    products: [{ product_id: 'p-1', sku: 'SKU-1', name: 'Hat', unit_price: 10.5, quantity: 2 }] }],
];
const beaconCalls = [
  ['identify', 'u-browser-2', { email: 'bob.browser@example.com', firstName: 'Bob' },
    { integrations: { Ometria: { listingId: 'contact-browser-2' } } }],
  ['track', 'Order Completed', { order_id: 'order-browser-2', grand_total: 12, currency: 'EUR',
    products: [{ product_id: 'p-2', sku: 'SKU-2', unit_price: 6, quantity: 2 }] }],
];
const phases = {
  xhr: { loadOptions: {}, calls: xhrCalls },
  // Sent as soon as both events are queued, or after a second.
  beacon: { loadOptions: { useBeacon: true, beaconQueueOptions: { maxItems: 2, flushQueueInterval: 1000 } }, calls: beaconCalls },
};
const eventsIn = (entry) => (entry.event && Array.isArray(entry.event.batch) ? entry.event.batch.length : 1);

// The page a new user writes: the SDK's file, then load() and the calls. getSourceConfig stands in for the
// control plane's /sourceConfig answer: a source with no device-mode destinations.
function pageHtml(sdkDataPlane, phase) {
  const settings = JSON.stringify({ writeKey, dataPlane: sdkDataPlane, ...phases[phase] });
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>A shop</title>
<script src="/rudder-analytics.js"></script>
<script>
  const settings = ${settings};
  const analytics = new rudderanalytics.RudderAnalytics();
  analytics.load(settings.writeKey, settings.dataPlane, {
    getSourceConfig: () => ({ source: { id: 'ometria-transformer', name: 'shop', enabled: true, config: {}, destinations: [] } }),
    logLevel: 'WARN',
    ...settings.loadOptions,
  });
  for (const [call, ...args] of settings.calls) analytics[call](...args);
</script></head><body>A shop</body></html>
`;
}

// ---- the recording relay: bytes pass unchanged both ways; each request is also kept whole ----
const recorded = [];
function startRelay(upstream) {
  const target = new URL(upstream);
  const relay = net.createServer((client) => {
    const server = net.connect(Number(target.port), target.hostname);
    let pending = Buffer.alloc(0);
    client.on('data', (data) => {
      server.write(data);
      pending = common.takeRequests(pending, data, (request) => recorded.push(request));
    });
    server.on('data', (data) => client.write(data));
    client.on('end', () => server.end());
    server.on('end', () => client.end());
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  return new Promise((resolve) => {
    relay.listen(0, '127.0.0.1', () => resolve(relay));
  });
}

// A file name from what the request is: "preflight_identify", "identify", "track_order_completed", "page".
function recordingName(raw) {
  const text = raw.toString('utf8');
  const [method, target] = text.slice(0, text.indexOf('\r\n')).split(' ');
  const type = `${target.startsWith('/beacon/') ? 'beacon_' : ''}${target.split('?')[0].split('/').pop()}`;
  if (method === 'OPTIONS') return `preflight_${type}`;
  let event = '';
  try {
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    if (body.event) event = `_${body.event.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
  } catch (e) { /* not JSON: named by the path only */ }
  return `${type}${event}`;
}

function writeRecordings() {
  fs.mkdirSync(recordDir, { recursive: true });
  const names = [];
  for (const raw of recorded) {
    let name = recordingName(raw);
    for (let n = 2; names.includes(name); n += 1) name = `${recordingName(raw)}_${n}`;
    names.push(name);
    fs.writeFileSync(path.join(recordDir, `${name}.http`), raw);
  }
  return names;
}

// ---- the page's own server: another origin than the data plane ----
const unexpectedPageRequests = [];
function startPageServer(sdkDataPlane) {
  const sdk = fs.readFileSync(sdkFile);
  const page = http.createServer((req, res) => {
    const phase = /^\/(?:\?phase=(\w+))?$/.exec(req.url);
    if (phase && phases[phase[1] || 'xhr']) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(pageHtml(sdkDataPlane, phase[1] || 'xhr'));
    } else if (req.url === '/rudder-analytics.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(sdk);
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else {
      unexpectedPageRequests.push(`${req.method} ${req.url}`);
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => {
    page.listen(pagePort, '127.0.0.1', () => resolve(page));
  });
}

// ---- Chromium ----
function startChromium(profileDir) {
  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--no-default-browser-check', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-extensions', '--mute-audio', `--user-data-dir=${profileDir}`, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    'about:blank',
  ];
  const browser = childProcess.spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start in 20 s: ${stderr.slice(-2000)}`)), 20000);
    browser.stderr.on('data', (data) => {
      stderr += data.toString();
      const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ browser, port: Number(m[1]), stderr: () => stderr });
      }
    });
    browser.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function main() {
  const relay = recordDir ? await startRelay(dataPlane) : null;
  const sdkDataPlane = relay ? `http://127.0.0.1:${relay.address().port}` : dataPlane;
  const page = await startPageServer(sdkDataPlane);
  const pageOrigin = `http://127.0.0.1:${page.address().port}`;
  const profileDir = fs.mkdtempSync(path.join(outDir, 'chromium-profile-'));
  const { browser, port } = await startChromium(profileDir);
  const report = { page_origin: pageOrigin, data_plane: sdkDataPlane, chromium: '', requests: [], console: [],
    exceptions: [], failed: [], elsewhere: [], unexpected_page_requests: unexpectedPageRequests, recorded: [] };
  let client;
  let currentPhase = '';
  try {
    client = await CDP({ host: '127.0.0.1', port });
    const { Network, Page, Runtime, Log, Browser, Storage } = client;
    report.chromium = (await Browser.getVersion()).product;
    const byId = new Map();
    Network.requestWillBeSent(({ requestId, request, type }) => {
      const url = new URL(request.url);
      if (url.origin === sdkDataPlane) {
        const entry = { phase: currentPhase, method: request.method, path: url.pathname + url.search, type, status: 0, answer: null,
          request_headers: request.headers, event: null };
        const parse = (text) => { try { return JSON.parse(text || 'null'); } catch (e) { return text; } };
        entry.event = parse(request.postData);
        if (request.hasPostData && request.postData === undefined) {  // a beacon's Blob: asked for apart
          entry.reading = Network.getRequestPostData({ requestId }).then(({ postData }) => { entry.event = parse(postData); },
            (e) => { entry.event = `(no body: ${e.message})`; });
        }
        byId.set(requestId, entry);
        report.requests.push(entry);
      } else if (url.origin !== pageOrigin && url.protocol !== 'data:' && url.protocol !== 'about:') {
        report.elsewhere.push(request.url);
      }
    });
    Network.responseReceived(({ requestId, response }) => {
      const entry = byId.get(requestId);
      if (entry) {
        entry.status = response.status;
        entry.response_headers = response.headers;
      }
    });
    Network.loadingFinished(async ({ requestId }) => {
      const entry = byId.get(requestId);
      if (!entry) return;
      try {
        entry.answer = (await Network.getResponseBody({ requestId })).body;
      } catch (e) {
        entry.answer = `(no body: ${e.message})`;
      }
      entry.done = true;
    });
    Network.loadingFailed(({ requestId, errorText, corsErrorStatus, blockedReason }) => {
      const entry = byId.get(requestId);
      report.failed.push({ url: entry ? entry.path : requestId, errorText, corsErrorStatus, blockedReason });
      if (entry) entry.done = true;
    });
    Runtime.consoleAPICalled(({ type, args }) => {
      report.console.push({ type, text: args.map((a) => (a.value !== undefined ? String(a.value) : a.description || '')).join(' ') });
    });
    Runtime.exceptionThrown(({ exceptionDetails }) => {
      report.exceptions.push((exceptionDetails.exception && exceptionDetails.exception.description) || exceptionDetails.text);
    });
    Log.entryAdded(({ entry }) => {
      report.console.push({ type: `log.${entry.level}`, text: `${entry.source}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}` });
    });
    await Promise.all([Network.enable(), Page.enable(), Runtime.enable(), Log.enable()]);
    report.timed_out = [];
    for (const phase of Object.keys(phases)) {
      currentPhase = phase;
      // A new visitor each time: no id or traits kept from the phase before.
      await Storage.clearDataForOrigin({ origin: pageOrigin, storageTypes: 'all' });
      await Network.clearBrowserCookies();
      await Page.navigate({ url: phase === 'xhr' ? `${pageOrigin}/` : `${pageOrigin}/?phase=${phase}` });
      // Done when every call was sent and answered (or failed), and nothing else came for a moment.
      const posts = () => report.requests.filter((r) => r.phase === phase && r.method === 'POST');
      const done = () => posts().reduce((n, r) => n + eventsIn(r), 0) >= phases[phase].calls.length && posts().every((r) => r.done);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !done()) await sleep(100);
      await sleep(1000);  // a late retry, warning or second request shows up here
      if (!done()) report.timed_out.push(phase);
    }
  } finally {
    // Closed as a user would (its helper processes go with it), killed only if it hangs.
    const exited = new Promise((resolve) => { if (browser.exitCode !== null) resolve(); else browser.once('exit', resolve); });
    if (client) {
      await client.Browser.close().catch(() => {});
      await client.close().catch(() => {});
    }
    if (await Promise.race([exited.then(() => true), sleep(10000).then(() => false)]) === false) {
      browser.kill('SIGKILL');
      await exited;
    }
    // The profile is in DIR, which the calling script removes; this is only tidying.
    try { fs.rmSync(profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); } catch (e) { /* left to the script */ }
    page.close();
    if (relay) relay.close();
  }
  for (const r of report.requests) {
    await r.reading;
    delete r.reading;
    delete r.done;
  }
  if (recordDir) report.recorded = writeRecordings();
  fs.writeFileSync(path.join(outDir, 'browser.json'), JSON.stringify(report, null, 1));
}

main().then(() => process.exit(0), (err) => {
  console.error(`browser_sdk_drive.js: ${err.stack || err}`);
  process.exit(1);
});
