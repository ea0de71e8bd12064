/**
 * A TCP proxy that holds every byte for a set delay before passing it on,
 * in order, in both directions: the latency half of a netem this kernel
 * lacks. Run inside a host's namespace in front of a server's port
 * (iptables REDIRECTs the port's incoming connections here):
 *
 *   node delay-proxy-main.js <target-host> <target-port>
 *
 * It prints `ready <port>` once listening, reads `delay <ms>` lines on
 * stdin, and exits when stdin closes, so it never outlives the nemesis.
 */
import { createServer, connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [targetHost, targetPortText] = process.argv.slice(2);
const targetPort = Number(targetPortText);
if (targetHost === undefined || !Number.isInteger(targetPort) || targetPort <= 0) {
  console.error('usage: delay-proxy-main.js <target-host> <target-port>');
  process.exit(2);
}

let delayMs = 0;

/** Forwards `from` to `to`, each piece `delayMs` after it arrived, never reordered. */
function pipeDelayed(from: Socket, to: Socket): void {
  const queue: Array<{ at: number; data: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now) to.write(queue.shift()!.data);
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.at - now);
  };
  from.on('data', (data: Buffer) => {
    if (delayMs === 0 && queue.length === 0) {
      to.write(data);
      return;
    }
    // A piece never leaves before the one ahead of it, even if the delay shrank meanwhile.
    const at = Math.max(performance.now() + delayMs, queue.at(-1)?.at ?? 0);
    queue.push({ at, data });
    timer ??= setTimeout(flush, at - performance.now());
  });
  from.on('close', () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const { data } of queue.splice(0)) to.write(data);
    to.end();
  });
}

const server = createServer((client) => {
  const upstream = connect(targetPort, targetHost);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  // A reset on either side ends both: the peers see a broken connection, as they would without us.
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
});
server.listen(0, () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  process.stdout.write(`ready ${address.port}\n`);
});

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const m = /^delay (\d+)$/.exec(line.trim());
  if (m !== null) delayMs = Number(m[1]);
});
lines.on('close', () => process.exit(0));
