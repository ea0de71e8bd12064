import { crc32c } from '../common/crc32c.js';
import { DfsError } from '../common/errors.js';
import { clientId, parseWireInteger, type ClientId } from '../common/ids.js';
import { LIMITS } from '../common/limits.js';
import type { Packet__Output } from '../proto/generated/dfs/chunk/Packet.js';

export type ValidPacket =
  | { kind: 'write'; offset: number; data: Buffer }
  | { kind: 'append'; offset: number; data: Buffer; clientId: ClientId; seq: number }
  | { kind: 'pad'; length: number }
  | { kind: 'truncate'; length: number };

/**
 * Checks one packet against the chunk's bounds and its own checksum. Every
 * replica checks every packet: a peer's bytes are input like any other.
 */
export function validatePacket(packet: Packet__Output, chunkSizeBytes: number): ValidPacket {
  const offset = parseWireInteger(packet.offset);
  const length = parseWireInteger(packet.length);
  if (offset === undefined || length === undefined) throw new DfsError('INVALID_ARGUMENT', 'packet offset or length out of range');
  switch (packet.kind) {
    case 'PACKET_KIND_WRITE':
    case 'PACKET_KIND_APPEND': {
      const data = packet.data;
      if (data.length > LIMITS.dataPacketMaxBytes) {
        throw new DfsError('TOO_LARGE', `packet carries ${data.length} bytes, more than ${LIMITS.dataPacketMaxBytes}`);
      }
      if (offset + data.length > chunkSizeBytes) {
        throw new DfsError('INVALID_ARGUMENT', `packet [${offset}, ${offset + data.length}) ends past the chunk (${chunkSizeBytes} bytes)`);
      }
      if (crc32c(data) !== packet.dataCrc32c >>> 0) throw new DfsError('CHECKSUM_MISMATCH', 'packet data does not match its checksum');
      if (packet.kind === 'PACKET_KIND_WRITE') return { kind: 'write', offset, data };
      const seq = parseWireInteger(packet.seq);
      if (!packet.clientId || Buffer.byteLength(packet.clientId) > LIMITS.clientIdMaxBytes || seq === undefined || seq === 0) {
        throw new DfsError('INVALID_ARGUMENT', 'an append packet needs a client id and a positive sequence number');
      }
      return { kind: 'append', offset, data, clientId: clientId(packet.clientId), seq };
    }
    case 'PACKET_KIND_PAD':
    case 'PACKET_KIND_TRUNCATE':
      if (length > chunkSizeBytes) throw new DfsError('INVALID_ARGUMENT', `length ${length} is past the chunk size`);
      return packet.kind === 'PACKET_KIND_PAD' ? { kind: 'pad', length } : { kind: 'truncate', length };
    default:
      throw new DfsError('INVALID_ARGUMENT', `unknown packet kind ${String(packet.kind)}`);
  }
}

/** The chunk length after the packet is applied to a chunk of `length` bytes. */
export function lengthAfter(packet: ValidPacket, length: number): number {
  switch (packet.kind) {
    case 'write':
    case 'append':
      return Math.max(length, packet.offset + packet.data.length);
    case 'pad':
      return Math.max(length, packet.length);
    case 'truncate':
      return packet.length;
  }
}
