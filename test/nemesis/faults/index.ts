import type { FaultKind } from '../schedule.js';
import { bitflip, truncateReplica } from './chunk-corruption.js';
import { delay } from './delay.js';
import { diskFull } from './disk-full.js';
import type { Injector } from './fault.js';
import { killChunkserver, killLeader, killPrimary } from './kill.js';
import { packetLoss } from './packet-loss.js';
import { partitionHalves, partitionLeader, partitionOneWay } from './partition.js';
import { pauseLeader, pausePrimary } from './pause.js';

/** Every fault kind's injector. */
export const INJECTORS: Record<FaultKind, Injector> = {
  'kill-leader': killLeader,
  'kill-chunkserver': killChunkserver,
  'kill-primary': killPrimary,
  'partition-leader': partitionLeader,
  'partition-halves': partitionHalves,
  'partition-one-way': partitionOneWay,
  'packet-loss': packetLoss,
  delay,
  'disk-full': diskFull,
  bitflip,
  truncate: truncateReplica,
  'pause-primary': pausePrimary,
  'pause-leader': pauseLeader,
};
