/**
 * A process that serves a MemoryFileSystem at a mount point until SIGTERM
 * (or until the kernel ends the connection), for tests that must kill a
 * server for real. Usage: node memory-mount.js MOUNTPOINT READY_FILE READERS
 *
 * Start it with UV_THREADPOOL_SIZE=threadPoolSizeFor(READERS): it refuses
 * to mount otherwise (see fuse-session.ts on the thread pool).
 */
import { writeReadyFile } from '../../common/ready-file.js';
import { createLogger } from '../../common/logger.js';
import { FuseSession, threadPoolSizeFromEnv } from '../../fuse/fuse-session.js';
import { MemoryFileSystem } from './memory-file-system.js';

async function main(): Promise<void> {
  const [mountPoint, readyFile, readers] = process.argv.slice(2);
  if (mountPoint === undefined || readyFile === undefined || readers === undefined) throw new Error('usage: memory-mount MOUNTPOINT READY_FILE READERS');
  const logger = createLogger('memory-mount', 'info');
  const session = await FuseSession.mount(mountPoint, new MemoryFileSystem(), {
    logger,
    readers: Number(readers),
    threadPoolSize: threadPoolSizeFromEnv(process.env),
  });
  const stop = (): void => {
    session.unmount({ abortAfterMs: 2_000 }).catch((err: unknown) => logger.error({ err }, 'unmount failed'));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await writeReadyFile(readyFile, { pid: process.pid, port: 0, address: session.mountPoint });
  await session.closed;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
