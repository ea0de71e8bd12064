import { assertNever } from '../common/assert.js';
import { ERROR_CODES, errors, isErrorCode, type ErrorCode } from '../common/errors.js';
import type { ChunkHandle, ChunkVersion, InodeId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { SessionRecord, SessionRecord__Output } from '../proto/generated/dfs/masterlog/SessionRecord.js';
import type { SessionResultKind__Output } from '../proto/generated/dfs/masterlog/SessionResultKind.js';
import { readInt64, readUint64 } from './entry-fields.js';
import { broken } from './invariant.js';

/**
 * What applying one request produced, in the few numbers needed to rebuild
 * its reply: attr replies are rebuilt from the inode's current attributes.
 */
export type Outcome =
  | { readonly kind: 'error'; readonly code: ErrorCode; readonly message: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'attr'; readonly inode: InodeId }
  | { readonly kind: 'chunk'; readonly inode: InodeId; readonly index: number }
  | { readonly kind: 'version'; readonly handle: ChunkHandle; readonly version: ChunkVersion }
  | { readonly kind: 'purged'; readonly inodes: number; readonly chunks: number; readonly sessions: number };

export type SessionLookup =
  | { readonly kind: 'new' }
  | { readonly kind: 'duplicate'; readonly outcome: Outcome }
  /** Below every remembered seq of a client whose window has moved on: it may or may not have been applied. */
  | { readonly kind: 'tooOld'; readonly forgottenBelowSeq: number };

// A result is one row of ROW numbers: seq, kind, and up to three values.
const ROW = 5;
const SEQ = 0;
const KIND = 1;
const A = 2;
const B = 3;
const C = 4;
const ROWS_INITIAL = 4;

const KIND_NONE = 0;
const KIND_ATTR = 1;
const KIND_CHUNK = 2;
const KIND_VERSION = 3;
const KIND_PURGED = 4;
const KIND_ERROR = 5;
/** In memory an error code is its index here; on the wire, its name. */
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

const WIRE_KIND: Record<Exclude<Outcome['kind'], 'error'>, SessionResultKind__Output> = {
  none: 'SESSION_RESULT_KIND_NONE',
  attr: 'SESSION_RESULT_KIND_ATTR',
  chunk: 'SESSION_RESULT_KIND_CHUNK',
  version: 'SESSION_RESULT_KIND_VERSION',
  purged: 'SESSION_RESULT_KIND_PURGED',
};

/**
 * One client's last LIMITS.sessionResultsPerClient results, kept as rows of a
 * Float64Array (with thousands of clients, an object per result would cost
 * several times as much) in a ring sorted by seq: lookups are binary
 * searches, evicting the smallest is a step of the head, and the common
 * in-order seq is an append. Error messages, rare, sit in a side map.
 */
class Session {
  private rows = new Float64Array(ROWS_INITIAL * ROW);
  private capacity = ROWS_INITIAL;
  /** The physical row of the smallest seq. */
  private head = 0;
  length = 0;
  messages: Map<number, string> | undefined;

  constructor(
    public lastSeenUs: number,
    /** Every seq below this was either applied or evicted: a request with one is too old to tell. */
    public forgottenBelowSeq: number,
  ) {}

  /** The offset in `rows` of the i-th smallest result. */
  private at(i: number): number {
    return ((this.head + i) % this.capacity) * ROW;
  }

  seqAt(i: number): number {
    return this.rows[this.at(i) + SEQ]!;
  }

  /** The rank of `seq` among the results, or -1. */
  find(seq: number): number {
    const i = this.lowerBound(seq);
    return i < this.length && this.seqAt(i) === seq ? i : -1;
  }

  /**
   * Stores a result, evicting the one with the smallest seq when full. Seqs
   * may arrive out of order (pipelined requests), so evicting by arrival would
   * forget a seq above one still remembered and let its retry apply again.
   */
  add(seq: number, outcome: Outcome): void {
    if (this.length === LIMITS.sessionResultsPerClient) {
      const smallest = this.seqAt(0);
      if (seq < smallest) {
        this.forgottenBelowSeq = Math.max(this.forgottenBelowSeq, seq + 1);
        return;
      }
      this.forgottenBelowSeq = Math.max(this.forgottenBelowSeq, smallest + 1);
      this.messages?.delete(smallest);
      this.head = (this.head + 1) % this.capacity;
      this.length--;
    } else if (this.length === this.capacity) {
      this.grow();
    }
    const rank = this.lowerBound(seq);
    for (let i = this.length; i > rank; i--) this.rows.copyWithin(this.at(i), this.at(i - 1), this.at(i - 1) + ROW);
    this.length++;
    this.write(this.at(rank), seq, outcome);
  }

  private lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqAt(mid) < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, LIMITS.sessionResultsPerClient);
    const rows = new Float64Array(capacity * ROW);
    for (let i = 0; i < this.length; i++) rows.set(this.rows.subarray(this.at(i), this.at(i) + ROW), i * ROW);
    this.rows = rows;
    this.capacity = capacity;
    this.head = 0;
  }

  private write(at: number, seq: number, outcome: Outcome): void {
    const rows = this.rows;
    rows[at + SEQ] = seq;
    rows[at + A] = 0;
    rows[at + B] = 0;
    rows[at + C] = 0;
    switch (outcome.kind) {
      case 'error':
        rows[at + KIND] = KIND_ERROR;
        rows[at + A] = CODES.indexOf(outcome.code);
        (this.messages ??= new Map()).set(seq, outcome.message);
        break;
      case 'none':
        rows[at + KIND] = KIND_NONE;
        break;
      case 'attr':
        rows[at + KIND] = KIND_ATTR;
        rows[at + A] = outcome.inode;
        break;
      case 'chunk':
        rows[at + KIND] = KIND_CHUNK;
        rows[at + A] = outcome.inode;
        rows[at + B] = outcome.index;
        break;
      case 'version':
        rows[at + KIND] = KIND_VERSION;
        rows[at + A] = outcome.handle;
        rows[at + B] = outcome.version;
        break;
      case 'purged':
        rows[at + KIND] = KIND_PURGED;
        rows[at + A] = outcome.inodes;
        rows[at + B] = outcome.chunks;
        rows[at + C] = outcome.sessions;
        break;
      default:
        assertNever(outcome, 'outcome');
    }
  }

  /** The outcome of the rank-th smallest result. */
  outcome(rank: number): Outcome {
    const at = this.at(rank);
    const rows = this.rows;
    const a = rows[at + A]!;
    const b = rows[at + B]!;
    const kind = rows[at + KIND]!;
    switch (kind) {
      case KIND_ERROR: {
        const code = CODES[a];
        if (code === undefined) broken(`session result ${rank} has error code ${a}`);
        return { kind: 'error', code, message: this.messages?.get(rows[at + SEQ]!) ?? '' };
      }
      case KIND_NONE:
        return { kind: 'none' };
      case KIND_ATTR:
        return { kind: 'attr', inode: a as InodeId };
      case KIND_CHUNK:
        return { kind: 'chunk', inode: a as InodeId, index: b };
      case KIND_VERSION:
        return { kind: 'version', handle: a as ChunkHandle, version: b as ChunkVersion };
      case KIND_PURGED:
        return { kind: 'purged', inodes: a, chunks: b, sessions: rows[at + C]! };
      default:
        return broken(`session result ${rank} has kind ${kind}`);
    }
  }
}

/**
 * Exactly-once for retried requests (Raft dissertation, 6.3): per client, the
 * results of its last requests by seq. Sessions end when idle, by PurgeTrash;
 * a client retrying after that is taken for a new one.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  get size(): number {
    return this.sessions.size;
  }

  lookup(clientId: string, seq: number): SessionLookup {
    const session = this.sessions.get(clientId);
    if (session === undefined) return { kind: 'new' };
    const row = session.find(seq);
    if (row !== -1) return { kind: 'duplicate', outcome: session.outcome(row) };
    if (seq < session.forgottenBelowSeq) return { kind: 'tooOld', forgottenBelowSeq: session.forgottenBelowSeq };
    return { kind: 'new' };
  }

  record(clientId: string, seq: number, timeUs: number, outcome: Outcome): void {
    let session = this.sessions.get(clientId);
    if (session === undefined) {
      session = new Session(timeUs, 0);
      this.sessions.set(clientId, session);
    }
    if (!(session.find(seq) === -1 && seq >= session.forgottenBelowSeq)) broken(`recording seq ${seq} of ${clientId} twice`);
    // Proposers' clocks may disagree: idleness is measured from the latest time seen.
    session.lastSeenUs = Math.max(session.lastSeenUs, timeUs);
    session.add(seq, outcome);
  }

  /** Forgets the sessions idle since before `idleBeforeUs`; returns how many. */
  purge(idleBeforeUs: number): number {
    let purged = 0;
    for (const [clientId, session] of this.sessions) {
      if (session.lastSeenUs < idleBeforeUs) {
        this.sessions.delete(clientId);
        purged++;
      }
    }
    return purged;
  }

  /** Sessions in insertion order, which a restore reproduces; results by seq. */
  toRecords(): SessionRecord[] {
    const records: SessionRecord[] = [];
    for (const [clientId, session] of this.sessions) {
      const results = [];
      for (let rank = 0; rank < session.length; rank++) {
        const seq = String(session.seqAt(rank));
        const outcome = session.outcome(rank);
        switch (outcome.kind) {
          case 'error':
            results.push({ seq, errorCode: outcome.code, errorMessage: outcome.message });
            break;
          case 'none':
            results.push({ seq, kind: WIRE_KIND.none });
            break;
          case 'attr':
            results.push({ seq, kind: WIRE_KIND.attr, inode: String(outcome.inode) });
            break;
          case 'chunk':
            results.push({ seq, kind: WIRE_KIND.chunk, inode: String(outcome.inode), chunkIndex: String(outcome.index) });
            break;
          case 'version':
            results.push({ seq, kind: WIRE_KIND.version, handle: String(outcome.handle), version: String(outcome.version) });
            break;
          case 'purged':
            results.push({
              seq,
              kind: WIRE_KIND.purged,
              purgedInodes: String(outcome.inodes),
              purgedChunks: String(outcome.chunks),
              purgedSessions: String(outcome.sessions),
            });
            break;
          default:
            assertNever(outcome, 'outcome');
        }
      }
      records.push({
        clientId,
        lastSeenUs: String(session.lastSeenUs),
        forgottenBelowSeq: String(session.forgottenBelowSeq),
        results,
      });
    }
    return records;
  }

  /** Rebuilds the table from a snapshot; throws INVALID_ARGUMENT on anything malformed. */
  static fromRecords(records: readonly SessionRecord__Output[]): SessionTable {
    const table = new SessionTable();
    for (const record of records) {
      const clientId = record.clientId;
      if (!isValidClientId(clientId)) throw errors.invalid(`snapshot: bad session client id ${JSON.stringify(clientId)}`);
      if (table.sessions.has(clientId)) throw errors.invalid(`snapshot: session ${clientId} appears twice`);
      const lastSeenUs = readInt64(record.lastSeenUs);
      const forgottenBelowSeq = readUint64(record.forgottenBelowSeq);
      if (lastSeenUs === undefined || forgottenBelowSeq === undefined) throw errors.invalid(`snapshot: session ${clientId} has a bad number`);
      if (record.results.length > LIMITS.sessionResultsPerClient) throw errors.invalid(`snapshot: session ${clientId} holds too many results`);
      const session = new Session(lastSeenUs, forgottenBelowSeq);
      for (const result of record.results) {
        const seq = readUint64(result.seq);
        if (seq === undefined || seq < forgottenBelowSeq || session.find(seq) !== -1) {
          throw errors.invalid(`snapshot: session ${clientId} has a bad or repeated seq ${result.seq}`);
        }
        session.add(seq, outcomeFromRecord(clientId, result));
      }
      table.sessions.set(clientId, session);
    }
    return table;
  }

  checkInvariants(): void {
    for (const [clientId, session] of this.sessions) {
      if (!isValidClientId(clientId)) broken(`bad client id ${clientId}`);
      if (!(session.length <= LIMITS.sessionResultsPerClient)) broken(`session ${clientId} holds ${session.length} results`);
      const seqs = new Set<number>();
      for (let rank = 0; rank < session.length; rank++) {
        const seq = session.seqAt(rank);
        if (!(rank === 0 || seq > session.seqAt(rank - 1))) broken(`session ${clientId}'s seqs are not ascending at ${rank}`);
        if (!(seq >= session.forgottenBelowSeq)) broken(`session ${clientId} holds seq ${seq} below ${session.forgottenBelowSeq}`);
        seqs.add(seq);
        session.outcome(rank);
      }
      for (const seq of session.messages?.keys() ?? []) if (!seqs.has(seq)) broken(`session ${clientId} keeps a message for seq ${seq}`);
    }
  }
}

export function isValidClientId(clientId: unknown): clientId is string {
  return typeof clientId === 'string' && clientId.length > 0 && Buffer.byteLength(clientId, 'utf8') <= LIMITS.clientIdMaxBytes;
}

function outcomeFromRecord(clientId: string, result: SessionRecord__Output['results'][number]): Outcome {
  const bad = (): never => {
    throw errors.invalid(`snapshot: session ${clientId} has a malformed result for seq ${result.seq}`);
  };
  if (result.errorCode !== '') {
    if (!isErrorCode(result.errorCode)) return bad();
    return { kind: 'error', code: result.errorCode, message: result.errorMessage };
  }
  const number = (value: string): number => readUint64(value) ?? bad();
  switch (result.kind) {
    case 'SESSION_RESULT_KIND_NONE':
      return { kind: 'none' };
    case 'SESSION_RESULT_KIND_ATTR':
      return { kind: 'attr', inode: number(result.inode) as InodeId };
    case 'SESSION_RESULT_KIND_CHUNK':
      return { kind: 'chunk', inode: number(result.inode) as InodeId, index: number(result.chunkIndex) };
    case 'SESSION_RESULT_KIND_VERSION':
      return { kind: 'version', handle: number(result.handle) as ChunkHandle, version: number(result.version) as ChunkVersion };
    case 'SESSION_RESULT_KIND_PURGED':
      return {
        kind: 'purged',
        inodes: number(result.purgedInodes),
        chunks: number(result.purgedChunks),
        sessions: number(result.purgedSessions),
      };
    default:
      return bad();
  }
}
