import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDfsError } from '../../../common/errors.js';
import { loadMountSettings } from '../../../cli/mount-commands.js';
import { loadChunkserverConfig, loadMasterConfig } from '../../../cli/process-commands.js';

/**
 * The three long-running processes (master, chunkserver, mount) read their
 * settings the same way: flags over DFS_* variables over a JSON file over
 * defaults, each value checked, and a refusal that names the setting and
 * where the bad value came from.
 */
describe('config loading: master, chunkserver and mount', () => {
  let dir: string;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfs-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(content: string): Promise<string> {
    const path = join(dir, `config-${++n}.json`);
    await writeFile(path, content);
    return path;
  }

  /** The INVALID_ARGUMENT message a load fails with. */
  async function refusal(load: () => unknown): Promise<string> {
    try {
      await load();
    } catch (err) {
      expect(isDfsError(err, 'INVALID_ARGUMENT'), String(err)).to.equal(true);
      return (err as Error).message;
    }
    throw new Error('the load was expected to fail');
  }

  const loaders = {
    master: (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => loadMasterConfig({ dataDir: '/srv/m', insecure: true, ...flags }, env),
    chunkserver: (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
      loadChunkserverConfig({ dataDir: '/srv/c', masters: '127.0.0.1:7000', insecure: true, ...flags }, env),
    mount: (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => loadMountSettings({ masters: '127.0.0.1:7000', insecure: true, ...flags }, env, dir),
  };

  for (const [name, load] of Object.entries(loaders)) {
    describe(name, () => {
      it('takes a flag over the environment over the file over the default', async () => {
        const config = await file(JSON.stringify({ logLevel: 'warn' }));
        expect((await load({ config })).logLevel).to.equal('warn');
        expect((await load({ config }, { DFS_LOG_LEVEL: 'error' })).logLevel).to.equal('error');
        expect((await load({ config, logLevel: 'debug' }, { DFS_LOG_LEVEL: 'error' })).logLevel).to.equal('debug');
        expect((await load({})).logLevel).to.equal('info');
      });

      it('refuses a file that is not a JSON object, naming the file', async () => {
        const notJson = await file('{"logLevel": ');
        expect(await refusal(() => load({ config: notJson }))).to.match(/config file .*config-\d+\.json is not JSON/);
        const array = await file('["logLevel"]');
        expect(await refusal(() => load({ config: array }))).to.match(/must hold a JSON object/);
        expect(await refusal(() => load({ config: join(dir, 'missing.json') }))).to.match(/cannot read config file .*missing\.json/);
      });

      it('refuses an unknown key in the file, listing the known ones', async () => {
        const config = await file(JSON.stringify({ logLevel: 'info', logLvl: 'debug' }));
        const message = await refusal(() => load({ config }));
        expect(message).to.include('unknown setting "logLvl"');
        expect(message).to.include('known: ').and.include('logLevel');
      });

      it('refuses a bad value, naming the setting and the variable it came from', async () => {
        const message = await refusal(() => load({}, { DFS_LOG_LEVEL: 'loud' }));
        expect(message).to.equal('logLevel must be one of debug, info, warn, error, silent, got "loud" (from environment variable DFS_LOG_LEVEL)');
      });

      it('refuses a value of the wrong JSON type, naming the file', async () => {
        const config = await file(JSON.stringify({ logLevel: 3 }));
        expect(await refusal(() => load({ config }))).to.match(/^logLevel must be a string, got 3 \(from config file .*\.json\)$/);
      });
    });
  }

  it('master: an out-of-range value names its source; a non-number is refused before it', async () => {
    expect(await refusal(() => loaders.master({}, { DFS_PORT: '70000' }))).to.equal(
      'master config: port 70000 is not a port (port from environment variable DFS_PORT)',
    );
    expect(await refusal(() => loaders.master({ port: '7x' }))).to.equal('port must be a whole number, got "7x" (from flag --port)');
    expect(await refusal(() => loaders.master({}, { DFS_PORT: '' }))).to.equal('port must be a whole number, got "" (from environment variable DFS_PORT)');
    const config = await file(JSON.stringify({ chunkSize: '3MiB' }));
    expect(await refusal(() => loaders.master({ config }))).to.match(
      /^master config: chunkSizeBytes 3145728 must be a power of two between 64 KiB and 1 GiB \(chunkSize from config file .*\)$/,
    );
  });

  it('master: settings that must agree name both sources', async () => {
    const config = await file(JSON.stringify({ heartbeatIntervalMs: 6000 }));
    expect(await refusal(() => loaders.master({ config, chunkserverTimeoutMs: '10000' }))).to.match(
      /chunkserverTimeoutMs must exceed two heartbeat intervals \(chunkserverTimeoutMs from flag --chunkserver-timeout-ms; heartbeatIntervalMs from config file .*\)$/,
    );
  });

  it('master: values of every kind, from every source', async () => {
    const config = await file(JSON.stringify({ chunkSize: '1MiB', peers: ['a=h1:7000', 'b=h2:7000'], raftId: 'a', replication: 2 }));
    const m = loadMasterConfig({ config, dataDir: '/d', join: undefined, insecure: true }, { DFS_LEASE_DURATION_MS: '9000', DFS_HIGH_WATER_MARK: '0.8' });
    expect(m.chunkSizeBytes).to.equal(1024 * 1024);
    expect(m.peers).to.deep.equal([{ id: 'a', address: 'h1:7000' }, { id: 'b', address: 'h2:7000' }]);
    expect(m.defaultReplication).to.equal(2);
    expect(m.leaseDurationMs).to.equal(9000);
    expect(m.highWaterMark).to.equal(0.8);
    expect(loadMasterConfig({ dataDir: '/d', insecure: true, balancerEnabled: true, balancerThresholdPct: '12.5' }, {})).to.include({ balancerEnabled: true, balancerThresholdPct: 12.5 });
    expect(await refusal(() => loaders.master({ highWaterMark: '90%' }))).to.equal('highWaterMark must be a number, got "90%" (from flag --high-water-mark)');
    expect(await refusal(() => loaders.master({ peers: 'a=h1:7000,b' , raftId: 'a' }))).to.match(/peer "b" must be id=host:port \(peers from flag --peers\)/);
  });

  it('chunkserver: a bad size, capacity or master list names its source', async () => {
    expect(await refusal(() => loaders.chunkserver({}, { DFS_CAPACITY: 'lots' }))).to.equal(
      'capacity must be a size such as 64MiB, 1G or 4096, got "lots" (from environment variable DFS_CAPACITY)',
    );
    expect(await refusal(() => loaders.chunkserver({ capacity: '0' }))).to.equal(
      'chunkserver config: capacityBytes must be positive (capacity from flag --capacity)',
    );
    const config = await file(JSON.stringify({ masters: ['h1:7000', 7] }));
    expect(await refusal(() => loadChunkserverConfig({ dataDir: '/d', config, insecure: true }, {}))).to.match(
      /^masters must be a comma-separated list or an array of strings, got \["h1:7000",7\] \(from config file .*\)$/,
    );
    expect(await refusal(() => loadChunkserverConfig({ dataDir: '/d', insecure: true }, { DFS_MASTERS: 'h1' }))).to.equal(
      'chunkserver config: master address "h1" is not host:port (masters from environment variable DFS_MASTERS)',
    );
    const c = loadChunkserverConfig({ dataDir: '/d', masters: 'h1:7000, h2:7000', insecure: true }, { DFS_CAPACITY: '10GiB', DFS_ZONE: 'z1' });
    expect(c.masters).to.deep.equal(['h1:7000', 'h2:7000']);
    expect(c.capacityBytes).to.equal(10 * 1024 ** 3);
    expect(c.zone).to.equal('z1');
  });

  it('mount: booleans, choices and ports are checked; the metrics port is off by default', async () => {
    expect((await loaders.mount({})).metrics).to.equal(undefined);
    expect((await loaders.mount({}, { DFS_METRICS_PORT: '9100' })).metrics).to.deep.equal({ host: '127.0.0.1', port: 9100 });
    expect(await refusal(() => loaders.mount({ metricsPort: '70000' }))).to.equal('mount config: metricsPort 70000 is not a port (metricsPort from flag --metrics-port)');
    expect(await refusal(() => loaders.mount({}, { DFS_WRITEBACK_CACHE: 'yes' }))).to.equal(
      'writebackCache must be true or false, got "yes" (from environment variable DFS_WRITEBACK_CACHE)',
    );
    expect((await loaders.mount({ writebackCache: true })).writebackCache).to.equal(true);
    expect((await loaders.mount({}, { DFS_WRITEBACK_CACHE: 'false' })).writebackCache).to.equal(false);
    const config = await file(JSON.stringify({ atime: 'strictatime' }));
    expect(await refusal(() => loaders.mount({ config }))).to.match(/^atime must be one of relatime, noatime, got "strictatime" \(from config file .*\)$/);
    expect(await refusal(() => loaders.mount({ attrTimeoutMs: '-5' }))).to.equal('mount config: attrTimeoutMs must not be negative (attrTimeoutMs from flag --attr-timeout-ms)');
    const settings = await loaders.mount({ readAhead: '0' }, { DFS_ENTRY_TIMEOUT_MS: '250' });
    expect(settings.fs.readAheadSegments).to.equal(0);
    expect(settings.fs.entryTimeoutMs).to.equal(250);
  });
});
