import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { DfsError, ERROR_CODES, type ErrorCode } from '../../../common/errors.js';
import { fromGrpcError, toStatus } from '../../../common/grpc-errors.js';
import { normalizeUserPath, splitPath } from '../../../common/path.js';
import { parseSize } from '../../../cli/size.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as DfsError).code;
  }
}

describe('paths', () => {
  it('splits canonical absolute paths', () => {
    expect(splitPath('/')).to.deep.equal([]);
    expect(splitPath('/a/b c/d')).to.deep.equal(['a', 'b c', 'd']);
  });

  it('refuses .., ., empty and NUL components, relative paths and trailing slashes', () => {
    for (const bad of ['', 'a/b', '/a/../b', '/a/./b', '/a//b', '/a/', '/a\0b', '/..']) {
      expect(codeOf(() => splitPath(bad)), JSON.stringify(bad)).to.equal('INVALID_ARGUMENT');
    }
  });

  it('refuses names over 255 bytes and paths over 4096 bytes, counting UTF-8 bytes', () => {
    expect(codeOf(() => splitPath('/' + 'x'.repeat(255)))).to.equal(undefined);
    expect(codeOf(() => splitPath('/' + 'x'.repeat(256)))).to.equal('NAME_TOO_LONG');
    expect(codeOf(() => splitPath('/' + 'é'.repeat(128)))).to.equal('NAME_TOO_LONG');
    expect(codeOf(() => splitPath(('/' + 'x'.repeat(200)).repeat(21)))).to.equal('NAME_TOO_LONG');
  });

  it('normalizes what people type', () => {
    expect(normalizeUserPath('a//b/./c/')).to.equal('/a/b/c');
    expect(normalizeUserPath('/a/b/../c')).to.equal('/a/c');
    expect(normalizeUserPath('../../x')).to.equal('/x');
    expect(normalizeUserPath('')).to.equal('/');
  });
});

describe('errors on the wire', () => {
  it('round-trips every code with its details through a gRPC status', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const status = toStatus(new DfsError(code, `m-${code}`, { details: { leaderHint: 'h:1', failedServerIds: ['x', 'y'] } }));
      expect(status.code).to.equal(ERROR_CODES[code].grpc);
      const back = fromGrpcError({ ...status, message: status.details } as grpc.ServiceError);
      expect(back.code).to.equal(code);
      expect(back.message).to.equal(`m-${code}`);
      expect(back.details.leaderHint).to.equal('h:1');
      expect(back.details.failedServerIds).to.deep.equal(['x', 'y']);
    }
  });

  it('turns a thrown non-DfsError into INTERNAL, never UNKNOWN', () => {
    const status = toStatus(new TypeError('boom'));
    expect(status.code).to.equal(grpc.status.INTERNAL);
    expect(fromGrpcError({ ...status, message: '' } as grpc.ServiceError).code).to.equal('INTERNAL');
  });

  it('maps statuses that grpc-js makes itself', () => {
    const make = (code: grpc.status) => fromGrpcError({ code, details: 'x', metadata: new grpc.Metadata() } as grpc.ServiceError).code;
    expect(make(grpc.status.UNAVAILABLE)).to.equal('UNAVAILABLE');
    expect(make(grpc.status.DEADLINE_EXCEEDED)).to.equal('TIMEOUT');
    expect(make(grpc.status.RESOURCE_EXHAUSTED)).to.equal('TOO_LARGE');
    expect(make(grpc.status.UNKNOWN)).to.equal('INTERNAL');
  });

  it('says which codes are retryable', () => {
    expect(new DfsError('UNAVAILABLE', '').retryable).to.equal(true);
    expect(new DfsError('CHAIN_FAILURE', '').retryable).to.equal(true);
    expect(new DfsError('NOT_FOUND', '').retryable).to.equal(false);
    expect(new DfsError('CHUNK_FULL', '').retryable).to.equal(false);
  });
});

describe('sizes', () => {
  it('parses sizes with binary and decimal units', () => {
    expect(parseSize('4096')).to.equal(4096);
    expect(parseSize('64MiB')).to.equal(64 * 1024 * 1024);
    expect(parseSize('1m')).to.equal(1024 * 1024);
    expect(parseSize('2GB')).to.equal(2_000_000_000);
    expect(codeOf(() => parseSize('lots'))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => parseSize('1.5'))).to.equal('INVALID_ARGUMENT');
  });
});
