import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { fromGrpcError } from '../../../common/grpc-errors.js';
import { startGrpcServer, stopGrpcServer } from '../../../common/grpc-server.js';
import { silentLogger } from '../../../common/logger.js';
import type { Message } from '../../../raft/core/messages.js';
import { nodeId, type NodeId } from '../../../raft/core/types.js';
import { messageFromWire, messageToWire } from '../../../raft/proto/convert.js';
import { raftCodec, raftServices } from '../../../raft/proto/raft-proto.js';
import { GrpcTransport } from '../../../raft/transport/grpc-transport.js';
import { TRANSPORT_LIMITS, type TransportLimits } from '../../../raft/transport/limits.js';
import type { Message as WireMessage, Message__Output as WireMessageOut } from '../../../proto/generated/dfs/raft/Message.js';
import { bytes, ents } from './harness.js';
import { PLAINTEXT } from '../../../security/transport-security.js';

const a = nodeId('a');
const b = nodeId('b');

const SAMPLES: Message[] = [
  { type: 'append', from: a, to: b, term: 3, prevIndex: 4, prevTerm: 2, entries: ents([3, 3], 5), commit: 4 },
  { type: 'appendResponse', from: b, to: a, term: 3, index: 4, reject: true, hintIndex: 2, hintTerm: 1 },
  { type: 'vote', from: a, to: b, term: 3, lastIndex: 9, lastTerm: 2, transfer: true },
  { type: 'preVote', from: a, to: b, term: 4, lastIndex: 9, lastTerm: 2, transfer: false },
  { type: 'voteResponse', from: b, to: a, term: 3, reject: false },
  { type: 'preVoteResponse', from: b, to: a, term: 4, reject: true },
  { type: 'snapshot', from: a, to: b, term: 3, snapshot: { metadata: { index: 7, term: 2, confState: { voters: [a, b], learners: [nodeId('c')] } }, data: bytes('state') } },
  { type: 'heartbeat', from: a, to: b, term: 3, commit: 6, context: 'ctx' },
  { type: 'heartbeatResponse', from: b, to: a, term: 3, context: 'ctx' },
  { type: 'timeoutNow', from: a, to: b, term: 3 },
  { type: 'readIndex', from: b, to: a, term: 0, context: 'r1' },
  { type: 'readIndexResponse', from: a, to: b, term: 3, index: 6, context: 'r1' },
];

const codec = raftCodec<WireMessage, WireMessageOut>('Message');

describe('raft transport', function () {
  this.timeout(20_000);

  describe('wire conversion', () => {
    for (const m of SAMPLES) {
      it(`round-trips a ${m.type} message through protobuf`, () => {
        expect(messageFromWire(codec.decode(codec.encode(messageToWire(m))))).to.deep.equal(m);
      });
    }

    it('refuses entries that do not follow prevIndex, ids that are empty and integers beyond 2^53', () => {
      const gap = messageToWire({ ...SAMPLES[0]!, prevIndex: 9 } as Message);
      gap.append!.prevIndex = 1;
      expect(() => messageFromWire(codec.decode(codec.encode(gap)))).to.throw(/not contiguous/);
      expect(() => messageFromWire(codec.decode(codec.encode({ ...messageToWire(SAMPLES[9]!), from: '' })))).to.throw(/sender is empty/);
      expect(() => messageFromWire(codec.decode(codec.encode({ ...messageToWire(SAMPLES[9]!), term: '18446744073709551615' })))).to.throw(/safe/);
      expect(() => messageFromWire(codec.decode(codec.encode({ from: 'a', to: 'b', term: 1 })))).to.throw(/without a body/);
    });
  });

  describe('over gRPC', () => {
    interface Node {
      id: NodeId;
      transport: GrpcTransport;
      server: grpc.Server;
      address: string;
      received: Array<{ m: Message; from: string }>;
      unreachable: NodeId[];
      snapshots: Array<[NodeId, boolean]>;
    }
    const nodes: Node[] = [];

    async function node(id: string, limits: Partial<TransportLimits> = {}): Promise<Node> {
      const transport = new GrpcTransport({ id: nodeId(id), logger: silentLogger, limits });
      const started = await startGrpcServer((s) => transport.register(s), {
        host: '127.0.0.1',
        port: 0,
        maxMessageBytes: TRANSPORT_LIMITS.grpcMessageBytes,
        largeWindow: false, security: PLAINTEXT,
      });
      const n: Node = { id: nodeId(id), transport, server: started.server, address: `127.0.0.1:${started.port}`, received: [], unreachable: [], snapshots: [] };
      transport.start(
        {
          receive: (m, from) => n.received.push({ m, from }),
          reportUnreachable: (to) => n.unreachable.push(to),
          reportSnapshot: (to, ok) => n.snapshots.push([to, ok]),
        },
        n.address,
      );
      nodes.push(n);
      return n;
    }

    async function until(what: string, check: () => boolean): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }

    afterEach(async () => {
      for (const n of nodes.splice(0)) {
        await n.transport.stop();
        await stopGrpcServer(n.server, 100);
      }
    });

    it('delivers messages in order with the sender address', async () => {
      const [x, y] = [await node('a'), await node('b')];
      const sent = SAMPLES.filter((m) => m.to === b && m.type !== 'snapshot');
      for (const m of sent) x.transport.send(m, y.address);
      await until('all messages', () => y.received.length === sent.length);
      expect(y.received.map((r) => r.m)).to.deep.equal(sent);
      expect(y.received.every((r) => r.from === x.address)).to.equal(true);
    });

    it('a peer that is down does not hold up the others, and is reported unreachable', async () => {
      const [x, y] = [await node('a'), await node('b')];
      const dead = '127.0.0.1:1';
      for (let i = 0; i < 20; i++) {
        x.transport.send({ type: 'timeoutNow', from: a, to: nodeId('c'), term: i }, dead);
        x.transport.send({ type: 'timeoutNow', from: a, to: b, term: i }, y.address);
      }
      await until('the live peer', () => y.received.length === 20);
      await until('an unreachable report', () => x.unreachable.includes(nodeId('c')));
    });

    it('bounds each peer queue and drops the oldest beyond it', async () => {
      const x = await node('a', { queuedMessagesPerPeer: 3 });
      for (let i = 0; i < 100; i++) x.transport.send({ type: 'timeoutNow', from: a, to: nodeId('c'), term: i }, '127.0.0.1:1');
      // The stream to the peer takes batches until its buffer is full (grpc-js
      // streams hold 16 objects), three more wait, the rest were dropped.
      const held = 100 - x.transport.droppedMessages();
      expect(held).to.be.at.least(3).and.at.most(3 + 16);
    });

    it('streams a large snapshot in chunks and reports delivery', async () => {
      const [x, y] = [await node('a', { snapshotChunkBytes: 1000 }), await node('b')];
      const data = new Uint8Array(25_500).map((_, i) => i % 251);
      const snap: Message = { type: 'snapshot', from: a, to: b, term: 2, snapshot: { metadata: { index: 9, term: 2, confState: { voters: [a, b], learners: [] } }, data } };
      x.transport.send(snap, y.address);
      await until('the snapshot', () => y.received.length === 1);
      expect(y.received[0]!.m).to.deep.equal(snap);
      await until('the delivery report', () => x.snapshots.length === 1);
      expect(x.snapshots).to.deep.equal([[b, true]]);
    });

    it('reports a snapshot that could not be delivered', async () => {
      const x = await node('a');
      const snap = SAMPLES.find((m) => m.type === 'snapshot')!;
      x.transport.send(snap, '127.0.0.1:1');
      await until('the failure report', () => x.snapshots.length === 1);
      expect(x.snapshots).to.deep.equal([[b, false]]);
    });

    describe('refuses bad input with INVALID_ARGUMENT and delivers none of the batch', () => {
      async function call(target: Node, messages: WireMessage[]): Promise<grpc.ServiceError | null> {
        const client = new (raftServices().dfs.raft.RaftTransport)(target.address, grpc.credentials.createInsecure());
        try {
          return await new Promise((resolve) => client.send({ messages, senderAddress: '' }, (err) => resolve(err)));
        } finally {
          client.close();
        }
      }

      it('a malformed message', async () => {
        const y = await node('b');
        const good = messageToWire({ type: 'timeoutNow', from: a, to: b, term: 1 });
        const err = await call(y, [good, { ...good, term: '-1' }]);
        expect(err?.code).to.equal(grpc.status.INVALID_ARGUMENT);
        expect(fromGrpcError(err).code).to.equal('INVALID_ARGUMENT');
        expect(y.received).to.have.length(0);
      });

      it('a message addressed to another member', async () => {
        const y = await node('b');
        const err = await call(y, [messageToWire({ type: 'timeoutNow', from: a, to: nodeId('zz'), term: 1 })]);
        expect(fromGrpcError(err).code).to.equal('INVALID_ARGUMENT');
        expect(y.received).to.have.length(0);
      });
    });
  });
});
