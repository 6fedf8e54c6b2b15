// Records, byte for byte, the HTTP requests the real RudderStack Node SDK sends (request line, headers, gzip body),
// for the fixtures in tests/integration/data/node_sdk/ that test_ingest_sdk.cpp replays without npm.
// Usage (in a directory where `npm install @rudderstack/rudder-sdk-node` was run):
//   NODE_PATH=$PWD/node_modules node tests/sdk/node_sdk_record.js OUT_DIR
// Writes OUT_DIR/first_flush.http (the SDK flushes its first event alone, at once) and OUT_DIR/batch.http.
'use strict';
const net = require('net');
const fs = require('fs');
const path = require('path');

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node node_sdk_record.js OUT_DIR');
  process.exit(2);
}
const names = ['first_flush.http', 'batch.http'];
let recorded = 0;

// A bare TCP listener: an HTTP server would parse the request; this keeps the bytes as they came.
const listener = net.createServer((socket) => {
  let pending = Buffer.alloc(0);
  socket.on('data', (data) => {
    pending = Buffer.concat([pending, data]);
    for (;;) {
      const headEnd = pending.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = pending.subarray(0, headEnd).toString('latin1');
      const length = Number((/\r\ncontent-length: *(\d+)/i.exec(head) || [0, 0])[1]);
      const end = headEnd + 4 + length;
      if (pending.length < end) return;
      if (recorded < names.length) fs.writeFileSync(path.join(outDir, names[recorded]), pending.subarray(0, end));
      recorded += 1;
      pending = pending.subarray(end);
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"accepted":1,"rejected":[]}');
    }
  });
});

listener.listen(0, '127.0.0.1', async () => {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  // The write key of the "web" source in tests/integration/ingest_fixture.hpp.
  const client = new Analytics('wk-web', { dataPlaneUrl: `http://127.0.0.1:${listener.address().port}` });
  client.identify({ userId: 'u-1', traits: { email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', listingId: 'cust-1' } });
  client.identify({ userId: 'u-2', traits: { email: 'bob@example.com', listingId: 'cust-2', phone: '+447911123456' } });
  client.track({
    userId: 'u-2',
    event: 'Order Completed',
    context: { traits: { email: 'bob@example.com' } },
    properties: {
      order_id: 'o-2', grand_total: 25.5, subtotal: 20, currency: 'GBP',
      products: [{ product_id: 'p-1', sku: 'SKU-1', name: 'Hat', unit_price: 10, quantity: 2 }],
    },
  });
  client.track({ userId: 'u-2', event: 'Wishlist Added', context: { traits: { email: 'bob@example.com' } },
    properties: { sku: 'SKU-1', colour: 'red' } });
  await client.flush();
  await client.flush();
  listener.close();
  if (recorded !== names.length) {
    console.error(`expected ${names.length} requests, got ${recorded}`);
    process.exit(1);
  }
  console.log(`recorded ${recorded} requests into ${outDir}`);
  process.exit(0);
});
