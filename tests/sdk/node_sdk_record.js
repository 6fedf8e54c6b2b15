// Records, byte for byte, the HTTP requests a real Node SDK sends (request line, headers, body), for the fixtures
// that the integration tests replay without npm:
//   rudderstack (@rudderstack/rudder-sdk-node): tests/integration/data/node_sdk/, replayed by test_ingest_sdk.cpp;
//     OUT_DIR/first_flush.http (the SDK flushes its first event alone, at once) and OUT_DIR/batch.http (gzip);
//   segment (@segment/analytics-node): tests/integration/data/segment_node/, replayed by
//     test_ingest_real_clients.cpp; OUT_DIR/batch.http (every call, and a page call, in one plain JSON batch).
// Usage (in a directory where `npm install <the SDK>` was run):
//   NODE_PATH=$PWD/node_modules node tests/sdk/node_sdk_record.js [--sdk rudderstack|segment] OUT_DIR
'use strict';
const net = require('net');
const fs = require('fs');
const path = require('path');
const { takeRequests } = require('./sdk_common');

const args = process.argv.slice(2);
const sdk = args[0] === '--sdk' ? args[1] : 'rudderstack';
const outDir = args[0] === '--sdk' ? args[2] : args[0];
if (!outDir || !['rudderstack', 'segment'].includes(sdk)) {
  console.error('usage: node node_sdk_record.js [--sdk rudderstack|segment] OUT_DIR');
  process.exit(2);
}
const names = sdk === 'rudderstack' ? ['first_flush.http', 'batch.http'] : ['batch.http'];
let recorded = 0;

// A bare TCP listener: an HTTP server would parse the request; this keeps the bytes as they came.
const listener = net.createServer((socket) => {
  let pending = Buffer.alloc(0);
  socket.on('data', (data) => {
    pending = takeRequests(pending, data, (request) => {
      if (recorded < names.length) fs.writeFileSync(path.join(outDir, names[recorded]), request);
      recorded += 1;
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"accepted":1,"rejected":[]}');
    });
  });
});

// The SDK as its documentation sets it up, pointed at the listener, with the write key of the "web" source in
// tests/integration/ingest_fixture.hpp; send() waits until every call was sent.
function client(url) {
  if (sdk === 'segment') {
    const { Analytics } = require('@segment/analytics-node');
    const analytics = new Analytics({ writeKey: 'wk-web', host: url });
    return { analytics, send: () => analytics.closeAndFlush() };
  }
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const analytics = new Analytics('wk-web', { dataPlaneUrl: url });
  return { analytics, send: async () => { await analytics.flush(); await analytics.flush(); } };
}

listener.listen(0, '127.0.0.1', async () => {
  const { analytics, send } = client(`http://127.0.0.1:${listener.address().port}`);
  analytics.identify({ userId: 'u-1', traits: { email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', listingId: 'cust-1' } });
  analytics.identify({ userId: 'u-2', traits: { email: 'bob@example.com', listingId: 'cust-2', phone: '+447911123456' } });
  analytics.track({
    userId: 'u-2',
    event: 'Order Completed',
    context: { traits: { email: 'bob@example.com' } },
    properties: {
      order_id: 'o-2', grand_total: 25.5, subtotal: 20, currency: 'GBP',
      products: [{ product_id: 'p-1', sku: 'SKU-1', name: 'Hat', unit_price: 10, quantity: 2 }],
    },
  });
  analytics.track({ userId: 'u-2', event: 'Wishlist Added', context: { traits: { email: 'bob@example.com' } },
    properties: { sku: 'SKU-1', colour: 'red' } });
  // The RudderStack fixture predates page calls: its recording stays as it was.
  if (sdk === 'segment') analytics.page({ userId: 'u-2', name: 'Basket', properties: { path: '/basket' } });
  await send();
  listener.close();
  if (recorded !== names.length) {
    console.error(`expected ${names.length} requests, got ${recorded}`);
    process.exit(1);
  }
  console.log(`recorded ${recorded} requests into ${outDir}`);
  process.exit(0);
});
