// A Node.js HTTP/2 server over TLS for the tests: certificate and key
// files from argv[2] and argv[3]. It prints its port on stdout, counts
// executions per x-request-id (GET /ledger returns them as JSON) and
// answers after ?sleep=MS milliseconds. A line "drain" on stdin closes
// every open session gracefully (GOAWAY; the streams the session took run
// to the end) while the server keeps accepting new ones; it prints
// "draining" once the GOAWAYs are on their way.
const fs = require('fs');
const http2 = require('http2');
const readline = require('readline');

const ledger = new Map();
const sessions = new Set();

const server = http2.createSecureServer({
  cert: fs.readFileSync(process.argv[2]),
  key: fs.readFileSync(process.argv[3]),
});
server.on('session', (session) => {
  sessions.add(session);
  session.on('close', () => sessions.delete(session));
});
server.on('request', (req, res) => {
  const url = new URL(req.url, 'https://x');
  if (url.pathname === '/ledger') {
    req.resume();
    res.end(JSON.stringify(Object.fromEntries(ledger)));
    return;
  }
  req.resume();
  req.on('end', () => {
    const id = req.headers['x-request-id'] || '';
    ledger.set(id, (ledger.get(id) || 0) + 1);
    const sleep = Number(url.searchParams.get('sleep'));
    if (sleep > 0) setTimeout(() => res.end('ok'), sleep);
    else res.end('ok');
  });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'drain') return;
  for (const session of sessions) session.close();
  console.log('draining');
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
