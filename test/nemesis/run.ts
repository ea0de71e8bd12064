import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DfsClient, DfsClientOptions } from '../../client-lib/index.js';
import { isAlive } from '../../cli/process-launcher.js';
import { sleep } from '../../common/backoff.js';
import { createHosts, type Hosts } from '../harness/netns.js';
import { FAST_MASTER_ARGS, TestCluster, waitFor } from '../harness/test-cluster.js';
import { Prng } from '../sim/prng.js';
import { Availability } from './availability.js';
import { checkHealth, checkLinearizable, checkRecords, checkReplicas, type HealthCheck, type ReplicaCheck } from './checker.js';
import { ClusterProbe } from './cluster-probe.js';
import { DelayProxies } from './faults/delay-proxies.js';
import type { ActiveFault, FaultContext } from './faults/fault.js';
import { INJECTORS } from './faults/index.js';
import { SmallDisk } from '../harness/small-disk.js';
import { NetworkFaults } from './network.js';
import { firstOf, type Check, type Figure, type Report } from './report.js';
import { FAULT_KINDS, faultPlan, type FaultKind } from './schedule.js';
import { AppendLog } from './workloads/append-log.js';
import { Appenders } from './workloads/appenders.js';
import { MetadataClients } from './workloads/metadata-clients.js';
import { Readers } from './workloads/readers.js';

const MASTERS = 3;
const CHUNKSERVERS = 5;
const APPENDERS = 4;
const READERS = 2;
const METADATA_CLIENTS = 3;
const METADATA_DIRS = 3;
/** The chunkserver whose data directory is a tmpfs the disk-full fault fills. */
const SMALL_DISK_SERVER = `chunkserver-${CHUNKSERVERS - 1}`;
/** Small chunks, so a short run fills many: chunk boundaries, padding and re-replication get exercised. */
const CHUNK_SIZE_BYTES = 256 * 1024;
const SMALL_DISK_BYTES = 128 * 1024 * 1024;
const LOG_FILE = '/nemesis/log';
const META_ROOT = '/nemesis/meta';
/** Pauses between one client's operations: enough load to matter, little enough for 2 shared cores. */
const APPEND_PACE_MS = 30;
const READ_PACE_MS = 100;
const METADATA_PACE_MS = 50;
/** How long the cluster gets to become whole between faults, and to heal every chunk at the end. */
const RECOVERY_TIMEOUT_MS = 60_000;
const CONVERGENCE_TIMEOUT_MS = 180_000;
/** Workload time on the healed cluster before the workloads stop, so the check sees it working again. */
const AFTER_HEAL_MS = 5_000;

/** Workload clients ride out faults: retries for up to a minute, each attempt with a short deadline. */
const WORKLOAD_CLIENT: Partial<DfsClientOptions> = {
  callTimeoutMs: 5_000,
  retry: { initialMs: 50, maxMs: 1_000, deadlineMs: 60_000 },
};

export interface NemesisOptions {
  seed: number;
  durationS: number;
  /** Fault kinds to draw from; every kind by default. */
  kinds?: readonly FaultKind[];
  /** Progress lines (the fault log as it happens). */
  log?: (line: string) => void;
  /** Keep the cluster's directory (logs, data) when a check fails. */
  keepOnFailure?: boolean;
}

export interface NemesisResult {
  report: Report;
  faultLog: string[];
  /** Where the run's details (fault log, failures) were written when a check failed. */
  artifact?: string;
}

/**
 * One nemesis run: 3 masters and 5 chunkservers, each on its own host
 * (network namespace); appenders, readers and metadata clients working
 * while the seed's fault plan runs for `durationS`; then everything healed,
 * the cluster given time to converge, and the checks.
 */
export async function runNemesis(options: NemesisOptions): Promise<NemesisResult> {
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const nowMs = () => Math.round(performance.now() - t0);
  const nowUs = () => Math.round((performance.now() - t0) * 1000);
  const faultLog: string[] = [];
  const note = (line: string) => {
    const entry = `${(nowMs() / 1000).toFixed(1)}s ${line}`;
    faultLog.push(entry);
    log(entry);
  };

  let hosts: Hosts | undefined;
  let cluster: TestCluster | undefined;
  let smallDisk: SmallDisk | undefined;
  const proxies = new DelayProxies();
  let probe: ClusterProbe | undefined;
  const paused = new Set<number>();
  try {
    hosts = await createHosts(MASTERS + CHUNKSERVERS);
    await hosts.checkReachable();
    const net = hosts;
    cluster = await TestCluster.start({
      masters: MASTERS,
      chunkservers: CHUNKSERVERS,
      chunkSizeBytes: CHUNK_SIZE_BYTES,
      masterArgs: [...FAST_MASTER_ARGS, '--raft-tick-ms', '50', '--raft-election-ticks', '10', '--log-level', 'info'],
      // The scrubber runs often, so a replica damaged on disk is found even when no reader asks for it.
      chunkserverArgs: ['--scrub-interval-ms', '100', '--capacity', '1GiB', '--log-level', 'info'],
      placement: (role, i) => {
        const host = net.host(role === 'master' ? i : MASTERS + i);
        return { host: host.address, wrapper: host.wrapper };
      },
    });
    const c = cluster;
    smallDisk = await SmallDisk.install(c, SMALL_DISK_SERVER, SMALL_DISK_BYTES);
    await c.startMissing();
    const network = await NetworkFaults.install(hosts);
    const masters = Array.from({ length: MASTERS }, (_, i) => `master-${i}`);
    const chunkservers = Array.from({ length: CHUNKSERVERS }, (_, i) => `chunkserver-${i}`);
    for (const [i, name] of masters.entries()) await proxies.add(name, hosts.host(i), c.process(name).port);
    probe = new ClusterProbe(c, masters);
    const p = probe;
    await waitFor('a settled master group', () => p.settledLeader(), RECOVERY_TIMEOUT_MS);
    note(`cluster up: ${MASTERS} masters, ${CHUNKSERVERS} chunkservers (${SMALL_DISK_SERVER} on a ${SMALL_DISK_BYTES >> 20} MiB tmpfs), each on its own host`);

    const admin = await c.client({ clientId: `nemesis-${options.seed}-admin`, retry: { deadlineMs: 60_000 } });
    await admin.mkdir(META_ROOT, { parents: true });
    for (let d = 0; d < METADATA_DIRS; d++) await admin.mkdir(`${META_ROOT}/d${d}`);
    const logInode = (await admin.create(LOG_FILE, { exclusive: true })).inode;

    const workloadRng = new Prng((options.seed ^ 0x5bd1e995) >>> 0);
    const connect = (tag: string) => c.client({ ...WORKLOAD_CLIENT, clientId: `nemesis-${options.seed}-${tag}` });
    const appendLog = new AppendLog();
    const availability = { append: new Availability(nowMs), read: new Availability(nowMs), metadata: new Availability(nowMs) };
    const appenders = new Appenders(await Promise.all(Array.from({ length: APPENDERS }, (_, i) => connect(`a${i}`))), LOG_FILE, appendLog, availability.append, nowMs, APPEND_PACE_MS);
    const readers = new Readers(
      await Promise.all(Array.from({ length: READERS }, (_, i) => connect(`r${i}`))),
      LOG_FILE, c.chunkSizeBytes, appendLog, availability.read, nowMs, workloadRng.fork(), READ_PACE_MS,
    );
    const metadata = new MetadataClients(
      await Promise.all(Array.from({ length: METADATA_CLIENTS }, (_, i) => connect(`m${i}`))),
      META_ROOT, METADATA_DIRS, availability.metadata, nowUs, workloadRng.fork(), METADATA_PACE_MS,
    );
    const workloads = [appenders, readers, metadata];
    for (const w of workloads) w.start();
    for (const a of Object.values(availability)) a.success();
    note('workloads started');

    // ------------------------------------------------------------ faults
    const ctx: FaultContext = {
      cluster: c, hosts, net: network, proxies, smallDisk, probe, masters, chunkservers,
      hostOf: (name) => (name.startsWith('master-') ? Number(name.slice('master-'.length)) : MASTERS + Number(name.slice('chunkserver-'.length))),
      logInode, corruptedHandles: new Set(), paused,
    };
    const injected = new Map<FaultKind, number>(FAULT_KINDS.map((k) => [k, 0]));
    const exits: string[] = [];
    const faultErrors: string[] = [];
    const plan = faultPlan(options.seed, options.kinds ?? FAULT_KINDS);
    const faultsStart = nowMs();
    const faultsEnd = faultsStart + options.durationS * 1000;
    await sleep(Math.min(3_000, options.durationS * 100));
    let active: ActiveFault | undefined;
    for (const planned of plan) {
      if (nowMs() >= faultsEnd) break;
      await recover(ctx, exits, note);
      if (nowMs() >= faultsEnd) break;
      try {
        active = await INJECTORS[planned.kind](ctx, new Prng(planned.seed));
      } catch (err) {
        faultErrors.push(`${planned.kind}: ${(err as Error).message}`);
        note(`could not inject ${planned.kind}: ${(err as Error).message}`);
        continue;
      }
      if (active === undefined) {
        note(`${planned.kind}: nothing to aim at yet, skipped`);
        continue;
      }
      injected.set(planned.kind, injected.get(planned.kind)! + 1);
      note(`${planned.kind}: ${active.description}; holding ${planned.holdMs} ms`);
      await sleep(Math.min(planned.holdMs, Math.max(0, faultsEnd - nowMs())));
      try {
        await active.heal();
        note(`${planned.kind}: healed`);
      } catch (err) {
        faultErrors.push(`healing ${planned.kind}: ${(err as Error).message}`);
        note(`healing ${planned.kind} failed: ${(err as Error).message}`);
      }
      active = undefined;
      await sleep(Math.min(planned.gapMs, Math.max(0, faultsEnd - nowMs())));
    }

    // ------------------------------------------------------------ heal and converge
    const faultsStoppedAt = nowMs();
    await healEverything(ctx);
    await recover(ctx, exits, note);
    note('every fault healed');
    await sleep(AFTER_HEAL_MS);
    for (const w of workloads) await w.stop();
    for (const a of Object.values(availability)) a.finish();
    note('workloads stopped');
    // A last stat of every name, on the healed cluster: the history's final word.
    const finalReader = await connect('final');
    const finalMetadata = new MetadataClients([finalReader], META_ROOT, METADATA_DIRS, availability.metadata, nowUs, new Prng(1), 0);
    await finalMetadata.statEverything('final');
    metadata.history.push(...finalMetadata.history);
    metadata.definiteFailures.push(...finalMetadata.definiteFailures);

    const converged = await converge(c, admin, faultsStoppedAt, nowMs, note);
    const data = await admin.readFile(LOG_FILE);
    const records = checkRecords(data, c.chunkSizeBytes, appendLog);
    const replicas = converged.replicas ?? (await checkReplicas(c, admin, LOG_FILE, data, c.chunkSizeBytes));
    const lin = checkLinearizable(metadata.history);
    note(`checked: ${records.recordsFound} records, ${replicas.replicas} replicas of ${replicas.chunks} chunks, ${lin.operations} metadata operations (${lin.ms} ms)`);

    // ------------------------------------------------------------ report
    const faultsTotal = [...injected.values()].reduce((a, b) => a + b, 0);
    const untyped = [appenders.errors, readers.errors, metadata.errors].flatMap((e) => [...e.byCode.keys()].filter((k) => k.startsWith('UNTYPED')));
    const corruptReads = readers.corrupt.length + records.corrupt.length;
    const figures: Figure[] = [
      { name: 'seed', value: options.seed },
      { name: 'duration_s', value: options.durationS },
      { name: 'operations', value: appenders.operations + readers.operations + metadata.operations },
      { name: 'faults_injected', value: faultsTotal },
      ...FAULT_KINDS.map((k) => ({ name: `faults_injected_${k.replaceAll('-', '_')}`, value: injected.get(k)! })),
      { name: 'acknowledged', value: appendLog.acknowledged.size },
      { name: 'lost', value: records.lost.length },
      { name: 'duplicated', value: records.duplicated.length },
      { name: 'corrupt_reads', value: corruptReads },
      { name: 'longest_unavailability_ms', value: Math.max(...Object.values(availability).map((a) => a.longestGapMs)) },
      { name: 'longest_unavailability_ms_append', value: availability.append.longestGapMs },
      { name: 'longest_unavailability_ms_read', value: availability.read.longestGapMs },
      { name: 'longest_unavailability_ms_metadata', value: availability.metadata.longestGapMs },
      { name: 'appends_attempted', value: appendLog.attempts },
      { name: 'appends_failed', value: appendLog.failed.size },
      { name: 'appends_failed_but_present', value: records.failedButPresent },
      { name: 'misplaced', value: records.misplaced.length },
      { name: 'reads', value: readers.operations },
      { name: 'reads_failed', value: readers.errors.total },
      { name: 'records_verified_by_readers', value: readers.recordsVerified },
      { name: 'torn_records_read', value: readers.tornRecords + records.torn },
      { name: 'stale_reads', value: readers.staleReads },
      { name: 'metadata_operations', value: metadata.operations },
      { name: 'metadata_unknown_outcomes', value: metadata.unknownOutcomes },
      { name: 'metadata_linearizable', value: lin.outcome },
      { name: 'replicas_checked', value: replicas.replicas },
      { name: 'replica_mismatches', value: replicas.mismatches.length },
      { name: 'chunks', value: converged.health.chunks },
      { name: 'unhealed_chunks', value: converged.health.unhealthy },
      { name: 'heal_ms', value: converged.healMs },
      { name: 'unexpected_exits', value: exits.length },
      { name: 'untyped_errors', value: untyped.length },
    ];
    const checks: Check[] = [
      { name: 'progress', ok: appendLog.acknowledged.size > 0 && metadata.history.length > 0 && readers.recordsVerified > 0, detail: 'the workloads got nothing done: the run proves nothing' },
      { name: 'lost', ok: records.lost.length === 0, detail: firstOf(records.lost) },
      { name: 'duplicated', ok: records.duplicated.length === 0, detail: firstOf(records.duplicated) },
      { name: 'misplaced', ok: records.misplaced.length === 0, detail: firstOf(records.misplaced) },
      {
        name: 'corrupt_reads',
        ok: corruptReads === 0,
        detail: firstOf([...readers.corrupt.map((r) => `reader ${r.reader} at ${r.atMs} ms, file offset ${r.fileOffset}: ${r.reason}`), ...records.corrupt.map((r) => `final read: ${r}`)]),
      },
      { name: 'replicas_identical', ok: replicas.mismatches.length === 0, detail: firstOf(replicas.mismatches) },
      { name: 'replication_goal', ok: converged.health.unhealthy === 0, detail: `${converged.health.detail} after ${CONVERGENCE_TIMEOUT_MS} ms` },
      {
        name: 'linearizable',
        ok: lin.outcome === 'ok',
        detail: lin.outcome === 'illegal' ? trimExplanation(lin.explanation) : lin.outcome === 'unknown' ? lin.reason : '',
      },
      { name: 'metadata_definite_failures', ok: metadata.definiteFailures.length === 0, detail: firstOf(metadata.definiteFailures) },
      { name: 'untyped_errors', ok: untyped.length === 0, detail: firstOf(untyped) },
    ];
    const report: Report = { figures, checks };
    const failed = checks.some((ch) => !ch.ok);
    let artifact: string | undefined;
    if (failed) {
      artifact = join(tmpdir(), `dfs-nemesis-seed${options.seed}-${process.pid}.json`);
      writeFileSync(
        artifact,
        JSON.stringify(
          {
            seed: options.seed, durationS: options.durationS, faultLog, faultErrors, exits, checks: checks.filter((ch) => !ch.ok),
            errors: { append: appenders.errors.describe(), read: readers.errors.describe(), metadata: metadata.errors.describe() },
            clusterDir: options.keepOnFailure ? c.dir : undefined,
          },
          null, 2,
        ),
      );
      if (options.keepOnFailure) c.keep();
    }
    log(`errors seen by clients: append ${appenders.errors.describe()}; read ${readers.errors.describe()}; metadata ${metadata.errors.describe()}`);
    if (faultErrors.length > 0) log(`fault errors: ${firstOf(faultErrors, 10)}`);
    if (exits.length > 0) log(`processes that exited on their own: ${firstOf(exits, 10)}`);
    return { report, faultLog, ...(artifact !== undefined ? { artifact } : {}) };
  } finally {
    for (const pid of paused) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
    probe?.close();
    proxies.stop();
    // The tmpfs goes first (lazily): the cluster's directory under it is removed next.
    smallDisk?.unmount();
    try {
      await cluster?.stop();
    } finally {
      await hosts?.destroy();
    }
  }
}

/** Lifts every fault that may still be in place: network rules, delays, the filler, paused processes. */
async function healEverything(ctx: FaultContext): Promise<void> {
  await ctx.net.healAll();
  for (const name of ctx.proxies.names) ctx.proxies.setDelay(name, 0);
  await ctx.smallDisk.free();
  for (const pid of ctx.paused) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
  ctx.paused.clear();
}

/**
 * Before the next fault: every process running (one that died on its own is
 * noted and restarted) and the masters following one leader. Faults never
 * pile up past what the system promises to survive.
 */
async function recover(ctx: FaultContext, exits: string[], note: (line: string) => void): Promise<void> {
  const dead = [...ctx.masters, ...ctx.chunkservers].filter((n) => !isAlive(ctx.cluster.process(n).pid));
  for (const name of dead) {
    exits.push(`${name}: ${ctx.cluster.logTail(name, 5).replaceAll('\n', ' | ')}`);
    note(`${name} exited on its own; restarting it`);
  }
  const deadline = performance.now() + RECOVERY_TIMEOUT_MS;
  for (;;) {
    try {
      if (dead.length > 0 || [...ctx.masters, ...ctx.chunkservers].some((n) => !isAlive(ctx.cluster.process(n).pid))) await ctx.cluster.startMissing();
      await waitFor('a settled master group', () => ctx.probe.settledLeader(), Math.max(1_000, deadline - performance.now()));
      return;
    } catch (err) {
      if (performance.now() > deadline) throw new Error(`the cluster did not recover within ${RECOVERY_TIMEOUT_MS} ms`, { cause: err });
      note(`still recovering: ${(err as Error).message.split('\n')[0]}`);
      await sleep(1_000);
    }
  }
}

/**
 * Waits until fsck finds every chunk at its goal and every listed replica
 * holds the bytes a client reads (the scrubber and readers find damaged
 * replicas; re-replication replaces them), up to a deadline. Returns the
 * last health seen and the time it took from the end of the faults.
 */
async function converge(
  cluster: TestCluster,
  client: DfsClient,
  faultsStoppedAt: number,
  nowMs: () => number,
  note: (line: string) => void,
): Promise<{ health: HealthCheck; replicas?: ReplicaCheck; healMs: number }> {
  const deadline = nowMs() + CONVERGENCE_TIMEOUT_MS;
  let health: HealthCheck | undefined;
  let replicas: ReplicaCheck | undefined;
  let lastNote = 0;
  for (;;) {
    try {
      health = await checkHealth(client);
      if (health.unhealthy === 0) {
        const data = await client.readFile(LOG_FILE);
        replicas = await checkReplicas(cluster, client, LOG_FILE, data, cluster.chunkSizeBytes);
        if (replicas.mismatches.length === 0) {
          const healMs = nowMs() - faultsStoppedAt;
          note(`converged: ${health.chunks} chunks at their goal, every replica identical (${healMs} ms after the faults stopped)`);
          return { health, replicas, healMs };
        }
      }
    } catch (err) {
      note(`convergence check failed for now: ${(err as Error).message.split('\n')[0]}`);
    }
    if (nowMs() > deadline) {
      note('did not converge in time');
      return { health: health ?? { chunks: 0, healthy: 0, unhealthy: -1, detail: 'fsck never answered' }, ...(replicas ? { replicas } : {}), healMs: nowMs() - faultsStoppedAt };
    }
    if (nowMs() - lastNote > 10_000) {
      lastNote = nowMs();
      note(`converging: ${health?.detail ?? 'no fsck yet'}${replicas ? `, ${replicas.mismatches.length} replicas differ` : ''}`);
    }
    await sleep(1_000);
  }
}

/** The checker's explanation cut to what a reader needs: the end of the linearized prefix, and what was stuck. */
function trimExplanation(explanation: string, keep = 12): string {
  const lines = explanation.split('\n');
  const stuckAt = lines.indexOf('could not be placed after it:');
  const prefix = lines.slice(1, stuckAt);
  const shown = prefix.length > keep ? [`  ... ${prefix.length - keep} earlier operations`, ...prefix.slice(-keep)] : prefix;
  return [lines[0]!, ...shown, ...lines.slice(stuckAt)].join('\n');
}

