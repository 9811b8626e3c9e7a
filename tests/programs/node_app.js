// A small Node.js service (no npm dependencies) for the leak benchmark's recorded traces.
//
//   node node_app.js PORT          (or PORT=8011 node node_app.js)
//
// GET /health -> 200 {"status":"ok"}; GET / -> a small JSON document;
// GET /items/<n> -> a little JSON built per request (garbage, never kept);
// GET /track -> 200; when env LEAK_KB > 0, each /track request keeps LEAK_KB KB in a
// global array for the life of the process (a leak on one route). LEAK_KB unset or 0:
// nothing is kept, the service is healthy. Nothing is logged per request.
'use strict';
const http = require('http');

const port = Number(process.argv[2] || process.env.PORT || 8011);
const leakKb = Number(process.env.LEAK_KB || 0);
const kept = [];  // the leak: grows by one buffer per /track request when LEAK_KB > 0
let tracked = 0;

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {'Content-Type': 'application/json',
                         'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/health') {
    return json(res, 200, {status: 'ok'});
  }
  if (path === '/') {
    return json(res, 200, {service: 'node_app', routes: ['/health', '/items/<n>', '/track']});
  }
  const match = /^\/items\/(\d+)$/.exec(path);
  if (match) {
    const n = Number(match[1]);
    const tags = [];
    for (let i = 0; i < 20; i++) tags.push(`tag-${(n * 31 + i) % 97}`);
    return json(res, 200, {id: n, name: `item ${n}`, price: (n % 1000) / 10, tags});
  }
  if (path === '/track') {
    tracked += 1;
    if (leakKb > 0) {
      // Filled, so the pages are really touched and count in RSS.
      kept.push(Buffer.alloc(leakKb * 1024, tracked & 0xff));
    }
    return json(res, 200, {tracked, kept: kept.length});
  }
  json(res, 404, {error: 'not found'});
});

server.keepAliveTimeout = 65000;
server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
