import type { DistributionStatusResponse__Output } from '../proto/generated/dfs/master/DistributionStatusResponse.js';
import { formatBytes } from './size.js';

/** What `dfs admin distribute status --json` prints. */
export function distributionJson(s: DistributionStatusResponse__Output) {
  return {
    path: s.path,
    replicateAll: s.replicateAll,
    fileBytes: Number(s.fileBytes),
    chunks: Number(s.chunks),
    nodes: Number(s.nodes),
    nodesComplete: Number(s.nodesComplete),
    bytesWanted: Number(s.bytesWanted),
    bytesDone: Number(s.bytesDone),
    originSentBytes: Number(s.originSentBytes),
    rateBytesPerS: s.rateBytesPerS,
    etaS: s.etaS < 0 ? null : s.etaS,
    startedAtMs: Number(s.startedAtMs),
    complete: isComplete(s),
    nodeStatus: s.nodeStatus.map((n) => ({
      id: n.server?.id ?? '',
      address: n.server?.address ?? '',
      zone: n.server?.zone ?? '',
      rack: n.server?.rack ?? '',
      alive: n.alive,
      chunksHeld: Number(n.chunksHeld),
      bytesHeld: Number(n.bytesHeld),
      bytesReceiving: Number(n.bytesReceiving),
      complete: n.complete,
      sentBytes: Number(n.sentBytes),
    })),
  };
}

/** Every node that should hold the file holds all of it. */
export function isComplete(s: DistributionStatusResponse__Output): boolean {
  return Number(s.nodes) > 0 && Number(s.nodesComplete) === Number(s.nodes);
}

export function formatDistribution(s: DistributionStatusResponse__Output): string {
  const fileBytes = Number(s.fileBytes);
  const eta = s.etaS < 0 ? 'unknown' : `${s.etaS.toFixed(0)} s`;
  const lines = [
    `${s.path}: ${formatBytes(fileBytes)} in ${s.chunks} chunks, replication ${s.replicateAll ? 'all' : 'not all (no distribution)'}`,
    `nodes complete ${s.nodesComplete}/${s.nodes}, ${formatBytes(Number(s.bytesDone))} of ${formatBytes(Number(s.bytesWanted))} done` +
      `, ${formatBytes(s.rateBytesPerS)}/s, ETA ${isComplete(s) ? 'done' : eta}`,
    `sent by the origin: ${formatBytes(Number(s.originSentBytes))} (${fileBytes > 0 ? (Number(s.originSentBytes) / fileBytes).toFixed(2) : '0'} x the file)`,
  ];
  if (s.nodeStatus.length === 0) return lines.join('\n');
  const table = [
    ['ADDRESS', 'ZONE/RACK', 'PROGRESS', 'CHUNKS', 'HELD', 'RECEIVING', 'SENT'],
    ...s.nodeStatus.map((n) => {
      const done = Number(n.bytesHeld) + Number(n.bytesReceiving);
      return [
        (n.server?.address ?? '') + (n.alive ? '' : ' (down)'),
        `${n.server?.zone ?? ''}/${n.server?.rack ?? ''}`,
        n.complete ? 'complete' : `${fileBytes > 0 ? ((100 * done) / fileBytes).toFixed(1) : '0.0'}%`,
        `${n.chunksHeld}/${s.chunks}`,
        formatBytes(Number(n.bytesHeld)),
        formatBytes(Number(n.bytesReceiving)),
        formatBytes(Number(n.sentBytes)),
      ];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return [...lines, '', ...table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())].join('\n');
}
