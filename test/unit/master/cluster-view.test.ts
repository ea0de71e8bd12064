import { idleProgress } from '../../../master/rebalancer.js';
import { expect } from 'chai';

import { chunkVersion, serverId, type ChunkHandle, type ChunkVersion, type ServerId } from '../../../common/ids.js';
import { ChunkLocations } from '../../../master/chunk-locations.js';
import { buildChunkMap, CELL, type FileChunkMap, type ReplicaSources } from '../../../master/chunk-map.js';
import { ChunkserverRegistry } from '../../../master/chunkserver-registry.js';
import { buildLeaderView, buildRaftView, VIEW_LIMITS, type LeaderViewInput, type RaftStatusInput } from '../../../master/cluster-view.js';
import { findDefaultFile } from '../../../master/default-file.js';
import { encodeEntry, entries, type LogEntry } from '../../../master/log-entry.js';
import { LeaseTable } from '../../../master/lease-table.js';
import type { MovementStatus } from '../../../master/movement-status.js';
import type { NodeAdminState } from '../../../master/node-states.js';
import { replicaClassesOf, replicaGoal, type ReplicaClasses } from '../../../master/replica-classes.js';
import type { MasterStateMachine } from '../../../master/state-machine.js';
import { attrOf, CHUNK, chunkOf, Harness, ok } from './harness.js';

const TIMEOUT_MS = 10_000;
const NOW = 1_000_000;

/**
 * The leader's soft state, built from the real pure classes it is made of,
 * with replica classes and goals as LeaderState derives them.
 */
class Replicas implements ReplicaSources {
  readonly locations = new ChunkLocations();
  readonly registry = new ChunkserverRegistry(TIMEOUT_MS);
  readonly leases = new LeaseTable(0, 0);
  readonly copying = new Set<ChunkHandle>();
  readonly replication = { isCopying: (handle: ChunkHandle) => this.copying.has(handle) };
  readonly adminStates = new Map<ServerId, NodeAdminState>();

  constructor(private readonly sm: MasterStateMachine) {}

  nodeState(server: ServerId): NodeAdminState {
    return this.adminStates.get(server) ?? 'active';
  }

  replicaClasses(handle: ChunkHandle, confirmed: ChunkVersion): ReplicaClasses {
    return replicaClassesOf(this, handle, confirmed);
  }

  goalOf(handle: ChunkHandle): number | undefined {
    return replicaGoal(this.sm.chunkGoal(handle));
  }

  addServer(name: string, zone = 'z1', rack = 'r1', usedBytes = 0): ServerId {
    const id = serverId(`id-${name}`);
    this.registry.register(id, { address: `${name}:7000`, zone, rack }, 1000, usedBytes, NOW);
    return id;
  }
}

function fileMap(view: ReturnType<typeof buildChunkMap>): FileChunkMap {
  if (view.kind !== 'file') expect.fail(`expected a chunk map, got: ${view.reason}`);
  return view;
}

const IDLE_REBALANCE: MovementStatus['rebalance'] = { ...idleProgress(), thresholdPct: 10, maxConcurrent: 4 };

function leaderInput(r: Replicas, chunkMap: LeaderViewInput['chunkMap'], movement: Partial<MovementStatus> = {}): LeaderViewInput {
  return {
    nowMs: NOW,
    config: { clusterId: 'c', chunkSizeBytes: CHUNK, defaultReplication: 3 },
    counts: { files: 1, directories: 1, chunks: 0, trash: 0 },
    servers: r.registry.all(),
    replication: { underReplicated: 2, missing: 1, copiesInFlight: 1 },
    movement: { rebalance: IDLE_REBALANCE, decommissions: [], maintenance: [], replicationQueue: 0, missingChunks: 0, copiesInFlight: 0, ...movement },
    adminState: (server) => r.nodeState(server),
    acceptingLeases: true,
    chunkMap,
  };
}

const NO_MAP = { kind: 'none', requestedPath: '', reason: 'no file holds any data yet' } as const;

/**
 * A file of `chunks` chunks, each confirmed at version 1. Applied directly,
 * without the harness's per-entry invariant check, which would make a
 * 10,000-chunk file quadratic.
 */
function writeFile(h: Harness, path: string, chunks: number, options: { replicateAll?: boolean; replication?: number } = {}): ChunkHandle[] {
  const apply = (entry: LogEntry) => ok(h.sm.applyEncoded(encodeEntry(entry)));
  const inode = attrOf(apply(entries.create(h.time++, undefined, { path, mode: 0o644, ...options }))).inode;
  const handles: ChunkHandle[] = [];
  for (let i = 0; i < chunks; i++) {
    const handle = chunkOf(apply(entries.allocateChunk(h.time++, undefined, { inode, index: i }))).handle;
    apply(entries.bumpVersion(h.time++, undefined, { handle, version: 1 }));
    apply(entries.confirmVersion(h.time++, undefined, { handle, version: 1 }));
    handles.push(handle);
  }
  apply(entries.commitWrite(h.time++, undefined, { inode, endOffset: chunks * CHUNK }));
  h.sm.checkInvariants();
  return handles;
}

describe('dashboard: cluster view', () => {
  it('counts nodes by state, sums capacity over live nodes only, lists troubled nodes first and per zone', () => {
    const r = new Replicas(new Harness().init().sm);
    r.addServer('b', 'z2', 'r1', 300);
    r.addServer('a', 'z1', 'r1', 100);
    const dead = r.addServer('c', 'z1', 'r2', 500);
    const unreachable = r.addServer('d', 'z2', 'r2', 50);
    r.adminStates.set(r.addServer('e', 'z2', 'r2', 10), 'decommissioning');
    r.registry.get(dead)!.lastHeartbeatMs = NOW - 2 * TIMEOUT_MS;
    r.registry.expire(NOW);
    r.registry.markUnreachable(unreachable, NOW);
    const view = buildLeaderView(leaderInput(r, NO_MAP));
    expect(view.nodeCounts).to.deep.equal({ total: 5, live: 3, unreachable: 1, dead: 1 });
    expect(view.adminCounts).to.deep.equal({ active: 4, decommissioning: 1, decommissioned: 0, maintenance: 0 });
    expect(view.capacity).to.deep.equal({ totalBytes: 4000, usedBytes: 460 });
    expect(view.nodes.rows.map((n) => [n.address, n.state, n.adminState])).to.deep.equal([
      ['c:7000', 'dead', 'active'],
      ['d:7000', 'unreachable', 'active'],
      ['e:7000', 'live', 'decommissioning'],
      ['a:7000', 'live', 'active'],
      ['b:7000', 'live', 'active'],
    ]);
    expect(view.nodes.more).to.equal(0);
    expect(view.zones.rows).to.deep.equal([
      { zone: 'z1', live: 1, dead: 1, capacityBytes: 1000, usedBytes: 100 },
      { zone: 'z2', live: 3, dead: 0, capacityBytes: 3000, usedBytes: 360 },
    ]);
    expect(view.health).to.deep.equal({ underReplicated: 2, missing: 1, copiesInFlight: 1 });
  });

  it('carries rebalance and decommission progress, with the time since the run started', () => {
    const r = new Replicas(new Harness().init().sm);
    const running = { ...IDLE_REBALANCE, state: 'running' as const, movesPlanned: 10, movesDone: 4, bytesPlanned: 1000, bytesMoved: 400, startedAtMs: NOW - 2_500 };
    const decommission = { serverId: serverId('x'), address: 'x:1', state: 'decommissioning' as const, alive: true, chunksHeld: 10, chunksLeft: 3 };
    const view = buildLeaderView(leaderInput(r, NO_MAP, { rebalance: running, decommissions: [decommission] }));
    expect(view.movement.rebalance).to.include({ state: 'running', movesDone: 4, bytesMoved: 400, sinceStartMs: 2_500 });
    expect(view.movement.rebalance).to.not.have.property('startedAtMs');
    expect(view.movement.decommissions).to.deep.equal({ rows: [decommission], more: 0 });
    expect(buildLeaderView(leaderInput(r, NO_MAP)).movement.rebalance.sinceStartMs).to.equal(null);
  });

  it('gives the Raft members with the leader marked', () => {
    const status: RaftStatusInput = {
      term: 7,
      leader: { id: 'm1', address: 'h:1' },
      commit: 42,
      applied: 41,
      members: [
        { id: 'm1', address: 'h:1', role: 'voter', match: 42 },
        { id: 'm2', address: null, role: 'learner', match: null },
      ],
    };
    expect(buildRaftView(status)).to.deep.equal({
      term: 7,
      commit: 42,
      applied: 41,
      members: [
        { id: 'm1', address: 'h:1', role: 'voter', isLeader: true, match: 42 },
        { id: 'm2', address: '', role: 'learner', isLeader: false, match: null },
      ],
    });
  });

  it('colours every replica of a chunk by its class and counts those toward the goal', () => {
    const h = new Harness().init();
    const [c0, c1] = writeFile(h, '/f', 2);
    ok(h.bump(c1!, 2));
    ok(h.apply((t) => entries.confirmVersion(t, undefined, { handle: c1!, version: 2 })));
    const r = new Replicas(h.sm);
    const [a, b, c, d, e, f] = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => r.addServer(n));
    r.adminStates.set(f!, 'decommissioning');
    r.locations.set(a!, c0!, chunkVersion(1));
    r.locations.set(b!, c0!, chunkVersion(1));
    r.locations.set(c!, c0!, chunkVersion(1));
    r.locations.set(f!, c0!, chunkVersion(1));
    r.locations.condemn(c!, c0!);
    r.leases.record({ handle: c0!, version: chunkVersion(1), primary: b!, secondaries: [a!], expiresAtMs: NOW + 5_000 });
    r.locations.set(a!, c1!, chunkVersion(2));
    r.locations.set(d!, c1!, chunkVersion(1));
    r.locations.set(e!, c1!, chunkVersion(2));
    r.registry.get(e!)!.lastHeartbeatMs = NOW - 2 * TIMEOUT_MS;
    r.registry.expire(NOW);
    r.copying.add(c1!);

    const map = fileMap(buildChunkMap(h.sm, r, { path: '/f', firstChunk: 0 }, NOW));
    expect(map).to.include({ path: '/f', chosen: 'requested', chunkSlots: 2, goal: 3, firstChunk: 0, moreNodes: 0, moreChunksAfter: 0 });
    expect(map.nodes.map((n) => n.address)).to.deep.equal(['a:7000', 'b:7000', 'c:7000', 'd:7000', 'e:7000', 'f:7000']);
    expect(map.nodes.map((n) => n.state)).to.deep.equal(['live', 'live', 'live', 'live', 'dead', 'live']);
    expect(map.rows.map((row) => row.cells)).to.deep.equal([
      CELL.counted + CELL.primary + CELL.condemned + CELL.none + CELL.none + CELL.leaving,
      CELL.counted + CELL.none + CELL.none + CELL.stale + CELL.down + CELL.none,
    ]);
    expect(map.rows.map((row) => [row.index, row.counted, row.held, row.copying, row.confirmedVersion])).to.deep.equal([
      [0, 2, 4, false, 1],
      [1, 1, 3, true, 2],
    ]);
    expect(map.coverage).to.deep.equal({ countedChunks: 2, countedReplicas: 3, wantedReplicas: 6, chunksBelowGoal: 2, partial: false });
  });

  it('picks the largest file with replication "all" by default, else the largest file; files without chunks do not count', () => {
    const h = new Harness().init();
    const r = new Replicas(h.sm);
    r.addServer('a');
    r.addServer('b');
    expect(buildChunkMap(h.sm, r, { path: '', firstChunk: 0 }, NOW)).to.deep.equal(NO_MAP);
    ok(h.create('/empty'));
    ok(h.mkdir('/d'));
    writeFile(h, '/d/big', 3);
    writeFile(h, '/small', 1);
    expect(fileMap(buildChunkMap(h.sm, r, { path: '', firstChunk: 0 }, NOW))).to.include({ path: '/d/big', chosen: 'largest', searchComplete: true });
    writeFile(h, '/d/hot', 2, { replicateAll: true });
    const hot = fileMap(buildChunkMap(h.sm, r, { path: '', firstChunk: 0 }, NOW));
    expect(hot).to.include({ path: '/d/hot', chosen: 'largest-replicate-all', replicateAll: true, goal: 2 });
    expect(findDefaultFile(h.sm, 3)).to.include({ path: '/small', chosen: 'largest', complete: false });
  });

  it('explains a path it cannot show, without failing the view', () => {
    const h = new Harness().init();
    ok(h.mkdir('/d'));
    const r = new Replicas(h.sm);
    expect(buildChunkMap(h.sm, r, { path: '/nope', firstChunk: 0 }, NOW)).to.deep.include({ kind: 'none', requestedPath: '/nope' });
    expect(buildChunkMap(h.sm, r, { path: '/d', firstChunk: 0 }, NOW)).to.deep.equal({ kind: 'none', requestedPath: '/d', reason: '/d is a directory, not a file' });
    expect(buildChunkMap(h.sm, r, { path: 'relative', firstChunk: 0 }, NOW)).to.deep.include({ kind: 'none', requestedPath: 'relative' });
  });

  it('stays small for 10,000 nodes and a 10,000-chunk file: pages rows, caps columns, says how many more', () => {
    const h = new Harness().init();
    const handles = writeFile(h, '/huge', 10_000, { replicateAll: true });
    const r = new Replicas(h.sm);
    const servers: ServerId[] = [];
    for (let i = 0; i < 10_000; i++) servers.push(r.addServer(`node-${String(i).padStart(5, '0')}`, `zone-${i % 150}`, `rack-${i % 40}`, i));
    // Every node holds the first chunk; node 9999 also holds chunks 100..163.
    for (const s of servers) r.locations.set(s, handles[0]!, chunkVersion(1));
    for (let i = 100; i < 164; i++) r.locations.set(servers[9999]!, handles[i]!, chunkVersion(1));

    const map = fileMap(buildChunkMap(h.sm, r, { path: '/huge', firstChunk: 100 }, NOW));
    expect(map.rows).to.have.length(VIEW_LIMITS.chunkRowsMax);
    expect(map.rows[0]!.index).to.equal(100);
    expect(map.moreChunksAfter).to.equal(10_000 - 100 - VIEW_LIMITS.chunkRowsMax);
    expect(map.nodes).to.have.length(VIEW_LIMITS.chunkColumnsMax);
    expect(map.moreNodes).to.equal(10_000 - VIEW_LIMITS.chunkColumnsMax);
    // The node that holds this page's chunks is among the columns.
    const column = map.nodes.findIndex((n) => n.address === 'node-09999:7000');
    expect(column).to.be.at.least(0);
    expect(map.rows.every((row) => row.cells[column] === CELL.counted && row.counted === 1)).to.equal(true);
    expect(map.coverage).to.include({ countedChunks: 10_000, wantedReplicas: 10_000 * 10_000, countedReplicas: 10_000 + 64, partial: false });

    const view = buildLeaderView(leaderInput(r, map));
    expect(view.nodes.rows).to.have.length(VIEW_LIMITS.nodeRowsMax);
    expect(view.nodes.more).to.equal(10_000 - VIEW_LIMITS.nodeRowsMax);
    expect(view.zones.rows).to.have.length(VIEW_LIMITS.zoneRowsMax);
    expect(view.zones.more).to.equal(50);
    expect(JSON.stringify(view).length).to.be.below(200_000);
  });

  it('counts coverage over the first chunks only when the file holds more replicas than the bound', () => {
    const h = new Harness().init();
    const handles = writeFile(h, '/f', 10);
    const r = new Replicas(h.sm);
    const servers = ['a', 'b', 'c'].map((n) => r.addServer(n));
    for (const handle of handles) for (const s of servers) r.locations.set(s, handle, chunkVersion(1));
    const limits = { ...VIEW_LIMITS, coverageReplicasMax: 10 };
    const map = fileMap(buildChunkMap(h.sm, r, { path: '/f', firstChunk: 0 }, NOW, limits));
    expect(map.coverage).to.deep.equal({ countedChunks: 3, countedReplicas: 9, wantedReplicas: 9, chunksBelowGoal: 0, partial: true });
    // The rows are bounded on their own: every chunk of the page is shown.
    expect(map.rows).to.have.length(10);
  });

  it('ends a page early when its chunks hold more replicas than the bound, and the next page starts after it', () => {
    const h = new Harness().init();
    const handles = writeFile(h, '/f', 10);
    const r = new Replicas(h.sm);
    const servers = ['a', 'b', 'c'].map((n) => r.addServer(n));
    for (const handle of handles) for (const s of servers) r.locations.set(s, handle, chunkVersion(1));
    const limits = { ...VIEW_LIMITS, pageReplicasMax: 7 };
    const first = fileMap(buildChunkMap(h.sm, r, { path: '/f', firstChunk: 0 }, NOW, limits));
    expect(first.rows.map((row) => row.index)).to.deep.equal([0, 1]);
    expect(first).to.include({ pageSlots: 2, moreChunksAfter: 8 });
    const next = fileMap(buildChunkMap(h.sm, r, { path: '/f', firstChunk: first.firstChunk + first.pageSlots }, NOW, limits));
    expect(next.rows.map((row) => row.index)).to.deep.equal([2, 3]);
    // A single chunk above the bound is still shown.
    const one = fileMap(buildChunkMap(h.sm, r, { path: '/f', firstChunk: 9 }, NOW, { ...VIEW_LIMITS, pageReplicasMax: 1 }));
    expect(one.rows.map((row) => [row.index, row.counted, row.cells])).to.deep.equal([[9, 3, 'CCC']]);
  });

  it('clamps a first chunk past the end to the last chunk', () => {
    const h = new Harness().init();
    writeFile(h, '/f', 3);
    const map = fileMap(buildChunkMap(h.sm, new Replicas(h.sm), { path: '/f', firstChunk: 500 }, NOW));
    expect(map.firstChunk).to.equal(2);
    expect(map.rows.map((row) => row.index)).to.deep.equal([2]);
  });
});
