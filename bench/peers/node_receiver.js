// Node receiver for bench/load.sh: `node node_receiver.js PORT` (secret in BENCH_SECRET).
//
// Plain `http`, no framework: read the whole body, HMAC-SHA256 it with `crypto`, compare with
// `timingSafeEqual`, `JSON.parse` it, answer 202 {"status":"accepted"}. No dedup; X-Request-Id
// is ignored. Listens on 127.0.0.1 only.
'use strict';

const http = require('http');
const crypto = require('crypto');

const secret = process.env.BENCH_SECRET;
if (!secret) {
  console.error('BENCH_SECRET is not set');
  process.exit(2);
}
const port = Number(process.argv[2] || 8085);

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/hooks/homa') {
    answer(res, 404, { error: 'unknown_source' });
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const expected = crypto.createHmac('sha256', secret).update(body).digest();
    const given = Buffer.from(String(req.headers['x-webhook-signature'] || ''), 'hex');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      answer(res, 401, { error: 'invalid_signature' });
      return;
    }
    let event;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch (e) {
      answer(res, 400, { error: 'malformed_json' });
      return;
    }
    if (event === null || typeof event !== 'object' || typeof event.event !== 'string') {
      answer(res, 422, { error: 'invalid_event' });
      return;
    }
    answer(res, 202, { status: 'accepted' });
  });
});

server.keepAliveTimeout = 65000;
server.listen(port, '127.0.0.1', () => {
  console.error(`node receiver listening on http://127.0.0.1:${port}/hooks/homa`);
});
