/**
 * Step builders, so that a case reads like the scenario it tests:
 *
 *   R.chmod('.', 0o1777), A.writeFile('f', 'a'), B.unlink('f', 'EPERM')
 *
 * The last argument of every builder is either the expected outcome
 * ('ok' when omitted) or an options object with `expect`, `observe` and the
 * operation's optional parameters (descriptor name, mode, position).
 */
import { assert } from '../../common/assert.js';
import { OPEN_FLAGS, type Expectation, type ExplicitTimes, type OpenFlag, type Operation, type Step } from './case-types.js';
import type { GroupRole, Who } from './identities.js';

interface Options {
  expect?: Expectation;
  observe?: string[];
}
interface FdOptions extends Options {
  /** The descriptor's name within the case; 'f' when omitted. */
  fd?: string;
}
type Tail<O extends Options = Options> = Expectation | O;

const DEFAULT_FD = 'f';

function options<O extends Options>(tail: Tail<O> | undefined): O {
  if (tail === undefined) return {} as O;
  if (typeof tail === 'string' || 'sysctl' in tail) return { expect: tail } as O;
  return tail;
}

/** 'O_CREAT|O_WRONLY' -> ['O_CREAT', 'O_WRONLY']; a typo fails when the case module loads. */
function parseFlags(text: string): OpenFlag[] {
  return text.split('|').map((name) => {
    assert((OPEN_FLAGS as readonly string[]).includes(name), `unknown open flag ${name} in "${text}"`);
    return name as OpenFlag;
  });
}

export function actor(as: Who) {
  const step = (operation: Operation, o: Options): Step => {
    const built: Step = { ...operation, as, expect: o.expect ?? 'ok' };
    if (o.observe !== undefined) built.observe = o.observe;
    return built;
  };
  return {
    open(path: string, flags: string, tail?: Tail<FdOptions & { mode?: number }>): Step {
      const o = options(tail);
      const operation: Operation = { op: 'open', path, flags: parseFlags(flags), fd: o.fd ?? DEFAULT_FD };
      if (o.mode !== undefined) operation.mode = o.mode;
      return step(operation, o);
    },
    close(tail?: Tail<FdOptions>): Step {
      const o = options(tail);
      return step({ op: 'close', fd: o.fd ?? DEFAULT_FD }, o);
    },
    write(data: string, tail?: Tail<FdOptions & { position?: number }>): Step {
      const o = options(tail);
      const operation: Operation = { op: 'write', fd: o.fd ?? DEFAULT_FD, data };
      if (o.position !== undefined) operation.position = o.position;
      return step(operation, o);
    },
    read(length: number, tail?: Tail<FdOptions & { position?: number }>): Step {
      const o = options(tail);
      const operation: Operation = { op: 'read', fd: o.fd ?? DEFAULT_FD, length };
      if (o.position !== undefined) operation.position = o.position;
      return step(operation, o);
    },
    fstat(tail?: Tail<FdOptions>): Step {
      const o = options(tail);
      return step({ op: 'fstat', fd: o.fd ?? DEFAULT_FD }, o);
    },
    ftruncate(length: number, tail?: Tail<FdOptions>): Step {
      const o = options(tail);
      return step({ op: 'ftruncate', fd: o.fd ?? DEFAULT_FD, length }, o);
    },
    writeFile(path: string, data: string, tail?: Tail<Options & { mode?: number }>): Step {
      const o = options(tail);
      return step({ op: 'writeFile', path, data, mode: o.mode ?? 0o644 }, o);
    },
    readFile: (path: string, tail?: Tail) => step({ op: 'readFile', path }, options(tail)),
    readdir: (path: string, tail?: Tail) => step({ op: 'readdir', path }, options(tail)),
    mkdir: (path: string, mode: number, tail?: Tail) => step({ op: 'mkdir', path, mode }, options(tail)),
    rmdir: (path: string, tail?: Tail) => step({ op: 'rmdir', path }, options(tail)),
    unlink: (path: string, tail?: Tail) => step({ op: 'unlink', path }, options(tail)),
    rename: (from: string, to: string, tail?: Tail) => step({ op: 'rename', from, to }, options(tail)),
    link: (existing: string, path: string, tail?: Tail) => step({ op: 'link', existing, path }, options(tail)),
    symlink: (target: string, path: string, tail?: Tail) => step({ op: 'symlink', target, path }, options(tail)),
    readlink: (path: string, tail?: Tail) => step({ op: 'readlink', path }, options(tail)),
    chmod: (path: string, mode: number, tail?: Tail) => step({ op: 'chmod', path, mode }, options(tail)),
    chown: (path: string, owner: Who | null, group: GroupRole | null, tail?: Tail) =>
      step({ op: 'chown', path, owner, group, noFollow: false }, options(tail)),
    lchown: (path: string, owner: Who | null, group: GroupRole | null, tail?: Tail) =>
      step({ op: 'chown', path, owner, group, noFollow: true }, options(tail)),
    truncate: (path: string, length: number, tail?: Tail) => step({ op: 'truncate', path, length }, options(tail)),
    utimes: (path: string, times: 'now' | ExplicitTimes, tail?: Tail) =>
      step({ op: 'utimes', path, times, noFollow: false }, options(tail)),
    lutimes: (path: string, times: ExplicitTimes, tail?: Tail) =>
      step({ op: 'utimes', path, times, noFollow: true }, options(tail)),
    mkfifo: (path: string, mode: number, tail?: Tail) => step({ op: 'mkfifo', path, mode }, options(tail)),
    stat: (path: string, tail?: Tail) => step({ op: 'stat', path }, options(tail)),
    lstat: (path: string, tail?: Tail) => step({ op: 'lstat', path }, options(tail)),
  };
}

export const R = actor('root');
export const A = actor('user-a');
export const B = actor('user-b');
export const N = actor('nobody');
