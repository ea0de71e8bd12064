import protobuf from 'protobufjs';
import { crc32c } from '../../common/crc32c.js';
import type { Prng } from '../sim/prng.js';
import type { FuzzWorld } from './fuzz-world.js';
import { seededBytes } from './hostile-values.js';

/**
 * A request that a real peer could have sent: every field named as the
 * .proto names it gets a value of that meaning (a sandbox path for `path`,
 * a sandbox chunk for `handle` with its `version`, a chunkserver for
 * `address`...). These are the "valid messages" the mutators start from: a
 * mutation of a plausible request gets past the first checks and reaches
 * the code behind them. Built from field names, so it covers every method
 * without a template per method.
 */

export type PlainMessage = { [field: string]: PlainValue };
export type PlainValue = string | number | boolean | Buffer | PlainMessage | PlainValue[] | null;

const MAX_DEPTH = 4;

export function plausibleMessage(type: protobuf.Type, world: FuzzWorld, rng: Prng, depth = 0): PlainMessage {
  const out: PlainMessage = {};
  const chunk = world.sandboxChunks.length > 0 ? rng.pick(world.sandboxChunks) : { handle: '1', version: '1' };
  const chosenOneofMembers = new Set<string>();
  for (const oneof of type.oneofsArray) chosenOneofMembers.add(rng.pick(oneof.fieldsArray).name);
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.partOf !== null && !chosenOneofMembers.has(field.name)) continue;
    if (field.repeated) {
      const n = depth >= MAX_DEPTH ? 0 : rng.int(0, 3);
      out[field.name] = Array.from({ length: n }, () => plausibleValue(field, world, rng, depth, chunk));
    } else {
      const v = plausibleValue(field, world, rng, depth, chunk);
      if (v !== null) out[field.name] = v;
    }
  }
  // A payload and its checksum travel together: a plausible one matches.
  if (Buffer.isBuffer(out.data) && type.fields.dataCrc32c !== undefined) out.dataCrc32c = crc32c(out.data);
  return out;
}

function plausibleValue(field: protobuf.Field, world: FuzzWorld, rng: Prng, depth: number, chunk: { handle: string; version: string }): PlainValue {
  const name = field.name;
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = Object.keys(field.resolvedType.values);
    return rng.pick(values);
  }
  if (field.resolvedType instanceof protobuf.Type) {
    if (depth >= MAX_DEPTH) return null;
    const t = field.resolvedType;
    // A fresh sequence number, drawn from the seed (a counter would depend on the order cases run in).
    if (t.fullName === '.dfs.RequestId') return { clientId: `fuzz-${rng.int(1, 4)}`, seq: String(rng.int(1, 2 ** 31)) };
    if (t.fullName === '.dfs.Caller') return { uid: rng.pick([0, 4242]), gid: 4242, groups: [] };
    if (t.fullName === '.dfs.ServerRef') {
      const s = rng.pick(world.chunkservers);
      return { id: s.id, address: s.address, zone: '', rack: '' };
    }
    return plausibleMessage(t, world, rng, depth + 1);
  }
  switch (field.type) {
    case 'string':
      return plausibleString(name, world, rng);
    case 'bytes':
      return seededBytes(rng, rng.pick([0, 1, 100, 4096]));
    case 'bool':
      return rng.chance(0.3);
    case 'double':
    case 'float':
      return rng.pick([0, 1, 10, 50]);
    case 'uint64':
    case 'int64':
    case 'fixed64':
    case 'sfixed64':
    case 'sint64':
      return plausible64(name, world, rng, chunk);
    case 'fixed32':
      return rng.int(0, 2 ** 32 - 1);
    default:
      return plausible32(name, rng);
  }
}

function plausibleString(name: string, world: FuzzWorld, rng: Prng): string {
  switch (name) {
    case 'path':
    case 'source':
    case 'destination':
    case 'filePath':
      return rng.chance(0.5) ? rng.pick(world.sandboxPaths) : `${world.sandboxPaths[0]}/n${rng.int(0, 50)}`;
    case 'name':
    case 'newName':
      return `n${rng.int(0, 50)}`;
    case 'target':
      return rng.chance(0.5) ? 'x' : `${world.sandboxPaths[0]}/t`;
    case 'address':
    case 'senderAddress':
    case 'leaderAddress':
      return rng.pick(world.chunkservers).address;
    case 'from':
    case 'to':
      return rng.pick(world.masters).id;
    case 'clientId':
      return `fuzz-${rng.int(1, 4)}`;
    case 'id':
    case 'serverId':
    case 'node':
      return rng.chance(0.5) ? `fuzz-server-${rng.int(1, 3)}` : rng.pick(world.chunkservers).id;
    case 'cursor':
    case 'startAfter':
      return '';
    default:
      return rng.chance(0.5) ? '' : `v${rng.int(0, 9)}`;
  }
}

function plausible64(name: string, world: FuzzWorld, rng: Prng, chunk: { handle: string; version: string }): string {
  switch (name) {
    case 'inode':
    case 'parent':
    case 'newParent':
      return rng.chance(0.2) ? '1' : rng.pick(world.sandboxInodes);
    case 'handle':
      return chunk.handle;
    case 'version':
    case 'minVersion':
    case 'baseVersion':
      return String(Number(chunk.version) + rng.int(-1, 2));
    case 'term':
    case 'lastTerm':
    case 'prevTerm':
      // Below the cluster's term: a member ignores what a stale leader sent.
      return String(rng.int(0, Math.max(0, world.raftTerm - 1)));
    case 'seq':
      return String(rng.int(1, 2 ** 31));
    case 'offset':
    case 'length':
    case 'size':
    case 'endOffset':
      return String(rng.pick([0, 1, 100, 4096, 65536]));
    default:
      return String(rng.int(0, 10));
  }
}

function plausible32(name: string, rng: Prng): number {
  switch (name) {
    case 'mode':
      return rng.pick([0o644, 0o755, 0o600]);
    case 'uid':
    case 'gid':
      return rng.pick([0, 4242]);
    case 'count':
    case 'limit':
    case 'maxItems':
    case 'maxNodes':
      return rng.int(0, 20);
    default:
      return rng.int(0, 10);
  }
}
