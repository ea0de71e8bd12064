import { median } from './process-cpu.js';

/** One chunk of a file as GetChunks tells a reader: its index and the ids of the servers it may read it from. */
export interface ChunkReplicas {
  index: number;
  replicas: string[];
}

/** Servers listed for every one of chunks 0..chunkCount-1: they hold the whole file. */
export function completeServers(chunks: readonly ChunkReplicas[], chunkCount: number): string[] {
  const byIndex = new Map(chunks.map((c) => [c.index, c.replicas]));
  let holders: Set<string> | undefined;
  for (let i = 0; i < chunkCount; i++) {
    const replicas = byIndex.get(i);
    if (replicas === undefined) return [];
    holders = holders === undefined ? new Set(replicas) : new Set(replicas.filter((r) => holders!.has(r)));
  }
  return [...(holders ?? [])];
}

/** A tc rate ("100mbit", "1gbit", "500kbit", SI prefixes as tc reads them) in bits per second. */
export function parseRate(rate: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(bit|kbit|mbit|gbit)$/i.exec(rate.trim());
  if (m === null) throw new Error(`--rate ${JSON.stringify(rate)}: use tc's syntax, e.g. 100mbit, 1gbit, 500kbit`);
  return Number(m[1]) * { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit']!;
}

/** How long each receiving host took, against the lower bound bytes / per-host bandwidth. */
export interface PhaseFigures {
  lastHostS: number;
  medianHostS: number;
  lowerBoundS: number;
  ratioLast: number;
  ratioMedian: number;
}

export function phaseFigures(hostSeconds: readonly number[], bytes: number, bitsPerSecond: number): PhaseFigures {
  if (hostSeconds.length === 0) throw new Error('no receiving host');
  const lastHostS = Math.max(...hostSeconds);
  const medianHostS = median([...hostSeconds]);
  const lowerBoundS = (bytes * 8) / bitsPerSecond;
  return { lastHostS, medianHostS, lowerBoundS, ratioLast: lastHostS / lowerBoundS, ratioMedian: medianHostS / lowerBoundS };
}

/** One run of ../shared/peers/bittorrent-baseline.sh, from the line it appends to its RESULTS file. */
export interface BittorrentRun {
  lastS: number;
  medianS: number;
  lowerBoundS: number;
  ratioLast: number;
  ratioMedian: number;
  /** Copies of the file the seed uploaded (its shaper's bytes, headers included). */
  originUploadRatio: number | undefined;
  badCopies: number;
  missingHosts: number;
  /** CPU seconds of its own processes (aria2c, tracker) during the run, as its monitor counted them. */
  clientsCpuS: number;
}

/** The `bt` lines of the script's tab-separated results file (header line first). */
export function parseBittorrentResults(tsv: string): BittorrentRun[] {
  const [header, ...lines] = tsv.split('\n').filter((l) => l.trim() !== '');
  if (header === undefined) return [];
  const columns = header.split('\t');
  const col = (fields: string[], name: string): string => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`bittorrent-baseline.sh results have no column ${name}`);
    return fields[i] ?? '';
  };
  return lines
    .map((line) => line.split('\t'))
    .filter((fields) => col(fields, 'mode') === 'bt')
    .map((fields) => {
      const upload = /uploaded ([0-9.]+)x/.exec(col(fields, 'extra'));
      return {
        lastS: Number(col(fields, 'last_s')),
        medianS: Number(col(fields, 'median_s')),
        lowerBoundS: Number(col(fields, 'lb_s')),
        ratioLast: Number(col(fields, 'ratio_last')),
        ratioMedian: Number(col(fields, 'ratio_median')),
        originUploadRatio: upload === null ? undefined : Number(upload[1]),
        badCopies: Number(col(fields, 'bad')),
        missingHosts: Number(col(fields, 'missing')),
        clientsCpuS: Number(col(fields, 'ours_cpu_s')),
      };
    });
}
