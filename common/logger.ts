import pino from 'pino';

/** The logging surface our modules depend on; pino's logger satisfies it. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A JSON logger on stderr (or a file descriptor), one line per record. */
export function createLogger(name: string, level: LogLevel, fd = 2): Logger {
  const destination = pino.destination({ fd, sync: false });
  // A log file on a full disk must not take the server down with it (an
  // 'error' nobody listens to is thrown): those lines are lost, service goes on.
  destination.on('error', () => undefined);
  return pino({ name, level, base: { pid: process.pid } }, destination);
}

export const silentLogger: Logger = pino({ level: 'silent' });
