import { createConnection, createServer, type Socket } from 'node:net';

/**
 * One end of the loopback bandwidth measurement (physical-limits.ts), a
 * process of its own so that sender and receiver each have an event loop:
 *   node loopback-peer.js receive          prints its port, then, when the
 *                                          sender hangs up, "<bytes> <seconds>"
 *   node loopback-peer.js send PORT SECONDS  pushes 1 MiB buffers for SECONDS
 * The receiver times from the first byte to the last, so connection set-up
 * and process start are not counted.
 */
const BLOCK_BYTES = 1024 * 1024;

function receive(): void {
  const server = createServer((socket: Socket) => {
    let bytes = 0;
    let firstNs: bigint | undefined;
    let lastNs = 0n;
    socket.on('data', (data: Buffer) => {
      firstNs ??= process.hrtime.bigint();
      lastNs = process.hrtime.bigint();
      bytes += data.length;
    });
    socket.on('end', () => {
      const seconds = firstNs === undefined ? 0 : Number(lastNs - firstNs) / 1e9;
      process.stdout.write(`${bytes} ${seconds}\n`);
      server.close();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the receiver has no TCP port');
    process.stdout.write(`${address.port}\n`);
  });
}

function send(port: number, seconds: number): void {
  const block = Buffer.alloc(BLOCK_BYTES, 0x5a);
  const socket = createConnection({ host: '127.0.0.1', port }, () => {
    const endNs = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
    const pump = (): void => {
      while (process.hrtime.bigint() < endNs) {
        if (!socket.write(block)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
}

const [mode, port, seconds] = process.argv.slice(2);
if (mode === 'receive') receive();
else if (mode === 'send') send(Number(port), Number(seconds));
else throw new Error(`usage: loopback-peer.js receive | send PORT SECONDS (got ${process.argv.slice(2).join(' ')})`);
