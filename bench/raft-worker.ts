import { join } from 'node:path';
import { startGrpcServer, stopGrpcServer } from '../common/grpc-server.js';
import { LIMITS } from '../common/limits.js';
import { silentLogger } from '../common/logger.js';
import { GrpcTransport, LevelDbStorage, RaftGroup, nodeId, type StateMachine } from '../raft/index.js';
import { PLAINTEXT } from '../security/transport-security.js';

/**
 * One member of the raw Raft benchmark (bench/raft.ts), in a process of its
 * own: a RaftGroup on LevelDB and the gRPC transport on a port of its own,
 * applying to a state machine that does nothing. The parent drives it over
 * the IPC channel (fork): `start` with the members, `load` on the leader,
 * `stop`. Tick and message limits are the master's, so the figures are
 * those of the master's log minus the master.
 */

export type WorkerCommand =
  | { type: 'start'; members: { id: string; address: string }[] }
  | { type: 'load'; seconds: number; proposers: number; payloadBytes: number }
  | { type: 'stop' };

export type WorkerEvent =
  | { type: 'listening'; address: string }
  | { type: 'leading'; id: string }
  | { type: 'loaded'; commits: number; seconds: number; p50Ms: number; p99Ms: number }
  | { type: 'failed'; message: string };

/** The master's defaults (master-config.ts): 50 ms ticks, elections after 10. */
const TICK_MS = 50;
const ELECTION_TICKS = 10;

class NoopStateMachine implements StateMachine<null> {
  apply(): null {
    return null;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

/** argv: <member id> <data dir> */
async function main(id: string, dataDir: string): Promise<void> {
  const send = (event: WorkerEvent) => process.send!(event);
  const transport = new GrpcTransport({
    id: nodeId(id),
    logger: silentLogger,
    limits: { batchBytes: LIMITS.metadataMessageMaxBytes / 4, grpcMessageBytes: LIMITS.metadataMessageMaxBytes },
  });
  const server = await startGrpcServer((s) => transport.register(s), {
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: LIMITS.metadataMessageMaxBytes,
    largeWindow: false, security: PLAINTEXT,
  });
  const address = `127.0.0.1:${server.port}`;
  let group: RaftGroup<null> | undefined;
  process.on('message', (command: WorkerCommand) => {
    void (async () => {
      try {
        switch (command.type) {
          case 'start':
            group = new RaftGroup<null>({
              id,
              address,
              storage: await LevelDbStorage.open(join(dataDir, 'raft')),
              transport,
              stateMachine: new NoopStateMachine(),
              bootstrap: command.members,
              tickIntervalMs: TICK_MS,
              electionTicks: ELECTION_TICKS,
              snapshotEveryEntries: 1_000_000,
              logger: silentLogger,
              core: { maxMessageBytes: LIMITS.metadataMessageMaxBytes / 4 },
            });
            group.onLeadershipChange((leading) => {
              if (leading) send({ type: 'leading', id });
            });
            await group.start();
            break;
          case 'load':
            if (group === undefined) throw new Error('load before start');
            send(await runLoad(group, command));
            break;
          case 'stop':
            await group?.stop();
            await stopGrpcServer(server.server, 500);
            process.exit(0);
        }
      } catch (err) {
        send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  // The parent gone (killed, crashed): nothing left to do.
  process.on('disconnect', () => process.exit(1));
  send({ type: 'listening', address });
}

/** `proposers` loops, each proposing one entry and waiting for it to be applied, for `seconds`. */
async function runLoad(group: RaftGroup<null>, load: { seconds: number; proposers: number; payloadBytes: number }): Promise<WorkerEvent> {
  const payload = new Uint8Array(load.payloadBytes).fill(7);
  const latenciesMs: number[] = [];
  const started = performance.now();
  const end = started + load.seconds * 1000;
  let commits = 0;
  await Promise.all(
    Array.from({ length: load.proposers }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await group.propose(payload);
        latenciesMs.push(performance.now() - t);
        commits++;
      }
    }),
  );
  latenciesMs.sort((a, b) => a - b);
  const at = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? NaN;
  return { type: 'loaded', commits, seconds: (performance.now() - started) / 1000, p50Ms: at(0.5), p99Ms: at(0.99) };
}

void main(process.argv[2]!, process.argv[3]!);
