// A Node.js http.Server with keepAliveTimeout from argv[2] (ms). It prints
// its port on stdout and counts executions per X-Request-Id.
const http = require('http');
const ledger = new Map();
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const id = req.headers['x-request-id'] || '';
    ledger.set(id, (ledger.get(id) || 0) + 1);
    res.end(req.url === '/ledger' ? JSON.stringify(Object.fromEntries(ledger)) : 'ok');
  });
});
server.keepAliveTimeout = Number(process.argv[2]);
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
