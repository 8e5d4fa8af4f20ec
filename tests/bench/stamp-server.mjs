// A server for the benchmark: listens on $PORT at once (or after LISTEN_AFTER_MS) and writes
// the wall-clock time (ms, fractional) at which it started listening to $STAMP_FILE.
import http from 'node:http';
import { writeFileSync } from 'node:fs';

const port = Number(process.env.PORT);
const after = Number(process.env.LISTEN_AFTER_MS || 0);
const now = () => performance.timeOrigin + performance.now();
setTimeout(() => {
  const server = http.createServer((req, res) => res.end('ok'));
  server.listen(port, '127.0.0.1', () => {
    writeFileSync(process.env.STAMP_FILE, String(now()));
  });
}, after);
