// A Node.js http.Server for the tests: keepAliveTimeout from argv[2] (ms),
// port from argv[3] (0 or absent: any). It prints its port on stdout,
// counts executions per X-Request-Id (GET /ledger returns them as JSON)
// and serves the behaviours described in the Go package's doc.go.
const http = require('http');
const ledger = new Map();
const keys = new Set();

function run(req) {
  const id = req.headers['x-request-id'] || '';
  const key = req.headers['idempotency-key'];
  if (key) {
    if (keys.has(key)) return [ledger.get(id) || 0, false];
    keys.add(key);
  }
  ledger.set(id, (ledger.get(id) || 0) + 1);
  return [ledger.get(id), true];
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/ledger') {
    req.resume();
    res.end(JSON.stringify(Object.fromEntries(ledger)));
    return;
  }
  const q = url.searchParams;
  const socket = req.socket;
  socket.served = (socket.served || 0) + 1;
  const reused = socket.served > 1;
  if (reused && q.get('reset') === 'before') {
    socket.resetAndDestroy();
    return;
  }
  req.resume();
  req.on('end', () => {
    const [runs, ran] = run(req);
    if (!ran) {
      res.end('ok');
      return;
    }
    if (reused && q.get('reset') === 'after') {
      socket.resetAndDestroy();
      return;
    }
    if (q.get('hang')) return;
    const answer = () => {
      const code = Number(q.get('status'));
      const fail = q.has('fail') ? Number(q.get('fail')) : Infinity;
      if (code && runs <= fail) {
        if (q.has('retry_after')) res.setHeader('Retry-After', q.get('retry_after'));
        res.statusCode = code;
      }
      res.end('ok');
    };
    const sleep = Number(q.get('sleep'));
    if (sleep > 0) setTimeout(answer, sleep);
    else answer();
  });
});
server.keepAliveTimeout = Number(process.argv[2]);
server.listen(Number(process.argv[3] || 0), '127.0.0.1', () => console.log(server.address().port));
