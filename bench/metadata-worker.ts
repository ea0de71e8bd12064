import type { ClientSecurity } from '../client-lib/client-options.js';
import { DfsClient } from '../client-lib/index.js';

/**
 * A process of metadata clients for bench/metadata.ts: `connect` opens its
 * DfsClients (each with its own client id, channel and coalescer), `run`
 * has every one of them perform its share of a phase with `depth` calls in
 * flight, `stop` closes them. Client c works under `${root}/c${c}`.
 */

export type Phase = 'mkdir' | 'create' | 'stat' | 'rename';

export type MetadataWorkerCommand =
  | { type: 'connect'; masters: string[]; security: ClientSecurity; clients: number; firstClient: number; batching: boolean }
  | { type: 'run'; phase: Phase; root: string; opsPerClient: number; depth: number }
  | { type: 'stop' };

export type MetadataWorkerEvent =
  | { type: 'connected' }
  | { type: 'ran'; ops: number; failures: number; firstFailure: string }
  | { type: 'failed'; message: string };

async function main(): Promise<void> {
  const send = (event: MetadataWorkerEvent) => process.send!(event);
  let clients: DfsClient[] = [];
  let firstClient = 0;
  process.on('message', (command: MetadataWorkerCommand) => {
    void (async () => {
      try {
        switch (command.type) {
          case 'connect':
            firstClient = command.firstClient;
            clients = await Promise.all(
              Array.from({ length: command.clients }, () => DfsClient.connect({ masters: command.masters, security: command.security, metadataBatching: command.batching })),
            );
            send({ type: 'connected' });
            break;
          case 'run': {
            let failures = 0;
            let firstFailure = '';
            await Promise.all(
              clients.map((client, i) => {
                const dir = `${command.root}/c${firstClient + i}`;
                return runLoops(command.opsPerClient, command.depth, async (j) => {
                  try {
                    await perform(client, command.phase, dir, j);
                  } catch (err) {
                    failures++;
                    if (firstFailure === '') firstFailure = err instanceof Error ? err.message : String(err);
                  }
                });
              }),
            );
            send({ type: 'ran', ops: command.opsPerClient * clients.length, failures, firstFailure });
            break;
          }
          case 'stop':
            for (const c of clients) c.close();
            process.exit(0);
        }
      } catch (err) {
        send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(1));
}

/** Op j of a client's phase; the client's directory exists (mkdir phase: `dir` itself is op 0's parent). */
function perform(client: DfsClient, phase: Phase, dir: string, j: number): Promise<unknown> {
  switch (phase) {
    case 'mkdir':
      return client.mkdir(`${dir}/d${j}`);
    case 'create':
      return client.create(`${dir}/f${j}`, { exclusive: true });
    case 'stat':
      return client.stat(`${dir}/f${j}`);
    case 'rename':
      return client.rename(`${dir}/f${j}`, `${dir}/r${j}`, { noReplace: true });
  }
}

/** Runs op(0..count-1) with `depth` loops, each waiting for its op before taking the next. */
async function runLoops(count: number, depth: number, op: (j: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(depth, count) }, async () => {
      while (next < count) await op(next++);
    }),
  );
}

void main();
