// One-file node http server with the demo's endpoints, for side-by-side benchmarks.
const http = require('http');
const port = Number(process.argv[2] || 8092);
http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/hello') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 13 });
    res.end('Hello, World!');
  } else if (req.method === 'GET' && req.url === '/json') {
    const body = '{"message":"Hello, World!"}';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  } else if (req.method === 'POST' && req.url === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
      res.end(body);
    });
  } else {
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
  }
}).listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
