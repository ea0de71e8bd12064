/**
 * Tears down what a process made outside itself (network namespaces, the
 * servers in them) when it exits, however it exits: on 'exit' each tracked
 * item's synchronous teardown runs, and while any is tracked, Ctrl-C or
 * SIGTERM (which would end the process without 'exit') exit through it.
 */
export class ExitCleanup<T> {
  private readonly live = new Set<T>();

  constructor(teardownSync: (item: T) => void) {
    process.on('exit', () => {
      for (const item of [...this.live]) teardownSync(item);
    });
  }

  track(item: T): void {
    this.live.add(item);
    if (this.live.size === 1) {
      process.on('SIGINT', exitOnSignal);
      process.on('SIGTERM', exitOnSignal);
    }
  }

  untrack(item: T): void {
    this.live.delete(item);
    if (this.live.size === 0) {
      process.off('SIGINT', exitOnSignal);
      process.off('SIGTERM', exitOnSignal);
    }
  }
}

function exitOnSignal(signal: NodeJS.Signals): void {
  process.exitCode = signal === 'SIGINT' ? 130 : 143;
  process.exit();
}
