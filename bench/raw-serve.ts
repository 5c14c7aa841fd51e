// Baseline for serving: a bare node:http server answering every request with one prebuilt Buffer of
// the given size, no routing, no headers logic. Compare its wrk numbers with /metrics/shard/K.
//   node dist-tools/bench/raw-serve.js --bytes=17700000 --port=9300 & wrk -t1 -c4 -d5s http://127.0.0.1:9300/
import { createServer } from 'node:http';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const body = Buffer.alloc(Number(args.bytes ?? 17_700_000), 'x');
createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(args.port ?? 9300), '127.0.0.1');
