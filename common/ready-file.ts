import { rename, writeFile } from 'node:fs/promises';

/** What a process writes once it serves, so launchers learn its port without fixed ports. */
export interface ReadyInfo {
  pid: number;
  port: number;
  /** The HTTP port, when the process serves HTTP. */
  httpPort?: number;
  address: string;
}

/** Written atomically: a reader never sees half a file. */
export async function writeReadyFile(path: string, info: ReadyInfo): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(info) + '\n');
  await rename(tmp, path);
}
