import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DfsClient } from '../../client-lib/index.js';
import { isDfsError } from '../../common/errors.js';
import { certificateIdentity } from '../../security/node-security.js';
import { MOUNT_READERS } from '../../cli/mount-commands.js';
import { DFS_ENTRY, isAlive, launch, terminate } from '../../cli/process-launcher.js';
import { threadPoolSizeFor } from '../../fuse/fuse-session.js';
import { createHosts, type Host, type Hosts } from '../harness/netns.js';
import { waitFor } from '../harness/test-cluster.js';

/*
 * docs/deployment.md, followed to the letter on hosts made of network
 * namespaces, so that the guide cannot go stale. Everything an operator
 * would type comes from the guide or the unit files:
 * - each process runs its unit's ExecStart= line with the unit's
 *   Environment= lines (systemd is not running here: `systemctl` in a step
 *   is carried out by this file, SIGTERM for stop as the units' KillSignal);
 * - configs are the guide's ```json config=ROLE blocks, edited per host as
 *   the guide says (raftId and advertiseAddress);
 * - procedures are the guide's ```sh step=NAME blocks, run line by line on
 *   the hosts their `# on HOST:` lines name.
 * Mapped explicitly, the way an install would place them: /usr/local/bin/dfs
 * is this checkout's dist/cli/dfs.js (run by launch() under this node, which
 * adds --ready-file so that we know when a process serves), /etc/dfs and
 * /var/lib/dfs are directories of the host under a temporary directory, and
 * the guide's example addresses (its host table) are the namespaces'.
 * Moving credentials between hosts: `scp -r SRC HOST:DST` copies between
 * those directories (modes kept, as scp keeps them); `chown -R USER:GROUP
 * DIR` is checked (DIR exists there, USER:GROUP is what the server units run
 * as) but not carried out: every process here runs as root, the units'
 * User= aside. The cluster runs with the guide's credentials: mutual TLS
 * everywhere, and this file's own clients use the admin's.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const GUIDE = join(REPO, 'docs', 'deployment.md');
const UNITS = join(REPO, 'deploy', 'systemd');
const DFS_BIN = '/usr/local/bin/dfs';
const run = promisify(execFile);

// ----------------------------------------------------------------- the guide

interface Block {
  lang: string;
  attrs: Map<string, string>;
  body: string;
}

/** Fenced blocks with their info strings: ```sh step=add-master -> lang sh, attrs {step: add-master}. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/^```(\S*)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const attrs = new Map<string, string>();
    for (const pair of m[2]!.trim().split(/\s+/).filter((p) => p !== '')) {
      const eq = pair.indexOf('=');
      if (eq > 0) attrs.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    blocks.push({ lang: m[1]!, attrs, body: m[3]! });
  }
  return blocks;
}

function marked(blocks: Block[], key: 'config' | 'step', name: string): string {
  const found = blocks.filter((b) => b.attrs.get(key) === name);
  if (found.length !== 1) throw new Error(`docs/deployment.md has ${found.length} blocks marked ${key}=${name}, not 1`);
  return found[0]!.body;
}

/** The host table: | `m1` | `10.0.0.11` | master |, in the order the guide lists them. */
function hostTable(markdown: string): { name: string; example: string }[] {
  return [...markdown.matchAll(/^\| `([a-z0-9]+)` \| `(\d+\.\d+\.\d+\.\d+)` \|/gm)].map((m) => ({ name: m[1]!, example: m[2]! }));
}

interface Unit {
  execStartPre: string[][];
  execStart: string[];
  environment: Record<string, string>;
  /** User= and Group= (root when absent, as systemd has it). */
  owner: string;
}

/** The lines of a unit this test runs a process from. Quoting is not parsed, so a unit must not need it. */
async function readUnit(name: string): Promise<Unit> {
  const text = await readFile(join(UNITS, `${name}.service`), 'utf8');
  const values = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
  const [execStart, ...more] = values('ExecStart');
  if (execStart === undefined || more.length > 0) throw new Error(`${name}.service needs exactly one ExecStart=`);
  if (/["'\\]/.test(execStart)) throw new Error(`${name}.service: ExecStart= with quotes or escapes is beyond this test's parser`);
  const environment: Record<string, string> = {};
  for (const assignment of values('Environment')) {
    const eq = assignment.indexOf('=');
    if (eq <= 0 || /["'\s]/.test(assignment)) throw new Error(`${name}.service: Environment=${assignment} is not one plain KEY=VALUE`);
    environment[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  const [user = 'root'] = values('User');
  const [group = user] = values('Group');
  return { execStartPre: values('ExecStartPre').map((line) => line.split(/\s+/)), execStart: execStart.split(/\s+/), environment, owner: `${user}:${group}` };
}

// ----------------------------------------------------------------- the machines

interface Machine {
  name: string;
  example: string;
  host: Host;
  /** Stands for the host's root file system: etc/dfs, var/lib/dfs, logs. */
  root: string;
  /** Exported in a step's shell on this host. */
  env: Record<string, string>;
  /** Running units, by unit name: the pid systemd would track. */
  units: Map<string, number>;
}

class Datacenter {
  private readonly addressPattern: RegExp;

  constructor(
    readonly machines: Map<string, Machine>,
    private readonly blocks: Block[],
  ) {
    const examples = [...machines.values()].map((m) => m.example.replace(/\./g, '\\.'));
    this.addressPattern = new RegExp(`\\b(${examples.join('|')})(?![\\d.])`, 'g');
  }

  machine(name: string): Machine {
    const m = this.machines.get(name);
    if (m === undefined) throw new Error(`the guide names host ${name}, which its host table does not list`);
    return m;
  }

  /** The guide's example addresses, as the namespaces have them. */
  localize(text: string): string {
    return text.replace(this.addressPattern, (example) => [...this.machines.values()].find((m) => m.example === example)!.host.address);
  }

  /** What a host's /etc/dfs and /var/lib/dfs are here. */
  private paths(machine: Machine, text: string): string {
    return text.replace(/\/etc\/dfs\//g, `${machine.root}/etc/dfs/`).replace(/\/var\/lib\/dfs\b/g, `${machine.root}/var/lib/dfs`);
  }

  /** A path a step names under /etc/dfs, as this host has it; anything else is not the guide's to touch here. */
  private configPath(machine: Machine, path: string, line: string): string {
    if (!path.startsWith('/etc/dfs/')) throw new Error(`"${line}": ${path} is not under /etc/dfs/, the only place this test maps`);
    return this.paths(machine, path);
  }

  /** `scp -r SRC HOST:DST` run on `from`: DST/basename(SRC) when DST is a directory there, else DST, as scp does. */
  private async scp(from: Machine, words: string[], line: string): Promise<void> {
    const target = words.length === 4 && words[1] === '-r' ? /^([a-z0-9]+):(\/.*)$/.exec(words[3]!) : null;
    if (target === null) throw new Error(`"${line}": scp -r SRC HOST:DST is the one form this test follows`);
    const source = this.configPath(from, words[2]!, line);
    const to = this.machine(target[1]!);
    let destination = this.configPath(to, target[2]!, line);
    const existing = await stat(destination).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (existing?.isDirectory() === true) destination = join(destination, basename(source));
    else if (target[2]!.endsWith('/')) throw new Error(`"${line}": ${target[2]} is not a directory on ${to.name}`);
    await cp(source, destination, { recursive: true, errorOnExist: true, force: false });
  }

  /** `chown -R USER:GROUP DIR`: checked, not run (see the header). */
  private async chown(machine: Machine, words: string[], line: string): Promise<void> {
    if (words.length !== 4 || words[1] !== '-R') throw new Error(`"${line}": chown -R USER:GROUP DIR is the one form this test follows`);
    const dir = this.configPath(machine, words[3]!, line);
    expect((await stat(dir)).isDirectory(), `${line} on ${machine.name}: the directory is there`).to.equal(true);
    for (const unit of ['dfs-master', 'dfs-chunkserver']) {
      expect(words[2], `${line}: the owner ${unit}.service runs as`).to.equal((await readUnit(unit)).owner);
    }
  }

  /**
   * Writes /etc/dfs/FILE on a host from the guide's block for `role`, with the
   * per-host changes the guide asks for: the host's own advertiseAddress
   * (at the block's port) and, for a master, its own raftId (its name).
   */
  async writeConfig(name: string, role: 'master' | 'master-join' | 'chunkserver' | 'mount'): Promise<void> {
    const machine = this.machine(name);
    const config = JSON.parse(marked(this.blocks, 'config', role)) as Record<string, unknown>;
    if (role !== 'mount') config.advertiseAddress = `${machine.example}:${String(config.port)}`;
    if (role === 'master' || role === 'master-join') config.raftId = machine.name;
    const file = role === 'master-join' ? 'master' : role;
    await mkdir(join(machine.root, 'etc', 'dfs'), { recursive: true });
    await writeFile(join(machine.root, 'etc', 'dfs', `${file}.json`), this.paths(machine, this.localize(JSON.stringify(config, null, 2))));
  }

  /**
   * `systemctl start UNIT` on a host: the unit's ExecStartPre= and ExecStart=
   * under its Environment=. For an instance of a template (dfs-mount@mnt-dfs),
   * %f is the instance unescaped as a path (/mnt/dfs), on the host.
   */
  private async start(machine: Machine, unitName: string): Promise<void> {
    if (machine.units.has(unitName)) return;
    const at = unitName.indexOf('@');
    const unit = await readUnit(at < 0 ? unitName : unitName.slice(0, at + 1));
    const instance = at < 0 ? undefined : unitName.slice(at + 1);
    if (instance !== undefined && !/^[a-z0-9-]+$/.test(instance)) throw new Error(`${unitName}: an instance beyond this test's unescaping`);
    const expand = (word: string) =>
      this.paths(machine, instance === undefined ? word : word.replaceAll('%f', `${machine.root}/${instance.replace(/-/g, '/')}`));
    for (const [program, ...args] of unit.execStartPre) {
      await run(machine.host.wrapper[0]!, [...machine.host.wrapper.slice(1), program!, ...args.map(expand)]);
    }
    const [bin, role, ...args] = unit.execStart;
    expect(bin, `${unitName} runs the installed dfs`).to.equal(DFS_BIN);
    if (role !== 'master' && role !== 'chunkserver' && role !== 'mount') throw new Error(`${unitName}: runs dfs ${role}, not a process this test knows`);
    if (role === 'mount') {
      // launch() sets the pool itself; the unit must give what `dfs mount` wants, or it runs itself again under systemd.
      expect(unit.environment.UV_THREADPOOL_SIZE, `${unitName}'s UV_THREADPOOL_SIZE`).to.equal(String(threadPoolSizeFor(MOUNT_READERS)));
    }
    await mkdir(join(machine.root, 'var', 'lib', 'dfs'), { recursive: true });
    const launched = await launch({
      role,
      args: args.map(expand),
      readyFile: join(machine.root, `${unitName}.ready.json`),
      logFile: join(machine.root, `${unitName}.log`),
      detached: false,
      readyTimeoutMs: 30_000,
      env: { ...process.env, ...unit.environment },
      wrapper: machine.host.wrapper,
    });
    machine.units.set(unitName, launched.pid);
  }

  private async stop(machine: Machine, unitName: string): Promise<void> {
    const pid = machine.units.get(unitName);
    if (pid === undefined) return;
    await terminate(pid, 30_000);
    machine.units.delete(unitName);
  }

  async systemctl(machine: Machine, words: string[]): Promise<void> {
    const [verb, ...rest] = words;
    const now = rest[0] === '--now';
    const unit = (now ? rest.slice(1) : rest).join(' ').replace(/\.service$/, '');
    if (!/^[a-z@.-]+$/.test(unit)) throw new Error(`systemctl ${words.join(' ')}: one unit expected`);
    if ((verb === 'enable' && now) || verb === 'start') return this.start(machine, unit);
    if ((verb === 'disable' && now) || verb === 'stop') return this.stop(machine, unit);
    if (verb === 'restart') {
      await this.stop(machine, unit);
      return this.start(machine, unit);
    }
    throw new Error(`systemctl ${words.join(' ')}: not a command this test knows`);
  }

  /** `dfs ...` or `curl ...` run on the host, with what was exported there. */
  async command(machine: Machine, argv: string[]): Promise<string> {
    const [program, ...args] = argv;
    const command = program === 'dfs' ? [process.execPath, DFS_ENTRY, ...args] : [program!, ...args];
    try {
      const { stdout } = await run(machine.host.wrapper[0]!, [...machine.host.wrapper.slice(1), ...command], {
        env: { ...process.env, ...machine.env },
        timeout: 60_000,
      });
      return stdout;
    } catch (err) {
      const { stdout, stderr } = err as { stdout?: string; stderr?: string };
      throw new Error(`on ${machine.name}: ${argv.join(' ')} failed: ${(err as Error).message}\n${stdout ?? ''}${stderr ?? ''}`);
    }
  }

  /**
   * Runs the guide's step block `name`. Hosts named together on an `# on`
   * line run each command at once (several operators, one per host).
   * Returns the output of every command, in order.
   */
  async step(name: string): Promise<string[]> {
    const outputs: string[] = [];
    let on: Machine[] = [];
    for (const raw of marked(this.blocks, 'step', name).split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      const target = /^# on ([a-z0-9, ]+):$/.exec(line);
      if (target !== null) {
        on = target[1]!.split(',').map((n) => this.machine(n.trim()));
        continue;
      }
      if (line.startsWith('#')) continue;
      if (on.length === 0) throw new Error(`step ${name}: "${line}" before any "# on HOST:" line`);
      const words = this.localize(line).split(/\s+/);
      switch (words[0]) {
        case 'export': {
          const [key, ...value] = words.slice(1).join(' ').split('=');
          for (const m of on) m.env[key!] = this.paths(m, value.join('='));
          break;
        }
        case 'systemctl':
          await Promise.all(on.map((m) => this.systemctl(m, words.slice(1))));
          break;
        case 'dfs':
        case 'curl':
          outputs.push(...(await Promise.all(on.map((m) => this.command(m, words.map((w) => this.paths(m, w)))))));
          break;
        case 'scp':
          await Promise.all(on.map((m) => this.scp(m, words, line)));
          break;
        case 'chown':
          await Promise.all(on.map((m) => this.chown(m, words, line)));
          break;
        default:
          throw new Error(`step ${name}: "${line}" is not a command this test can follow (export, systemctl, dfs, curl, scp, chown)`);
      }
    }
    return outputs;
  }

  async stopAll(): Promise<void> {
    const pids = [...this.machines.values()].flatMap((m) => [...m.units.values()]);
    await Promise.all(pids.map((pid) => (isAlive(pid) ? terminate(pid, 10_000) : undefined)));
    for (const m of this.machines.values()) m.units.clear();
  }
}

// ----------------------------------------------------------------- the tests

describe('docs/deployment.md on 9 hosts (network namespaces), with its own commands, units and configs', function () {
  this.timeout(120_000);
  let hosts: Hosts | undefined;
  let dc: Datacenter | undefined;
  let work: string | undefined;
  let client: DfsClient | undefined;

  const masterAddresses = (...names: string[]) => names.map((n) => `${dc!.machine(n).host.address}:7000`);
  /** The credentials the guide gives the admin host (its DFS_TLS_DIR, as that host has it). */
  const adminCredentials = () => {
    const tlsDir = dc!.machine('admin').env.DFS_TLS_DIR;
    if (tlsDir === undefined) throw new Error('the guide has not set DFS_TLS_DIR on admin yet');
    return { tlsDir };
  };
  /** One client per master address, to ask that master itself. */
  const pinned = new Map<string, DfsClient>();
  /** The group as the leader sees it: only its view has every member's match, and the latest membership. */
  const leaderStatus = async () => {
    const status = await client!.raftStatus();
    if (status.role === 'leader' || status.leaderAddress === '') return status;
    let leader = pinned.get(status.leaderAddress);
    if (leader === undefined) {
      leader = await DfsClient.connect({ masters: [status.leaderAddress], security: adminCredentials() });
      pinned.set(status.leaderAddress, leader);
    }
    return leader.raftStatus();
  };
  const raftMembers = async () => (await leaderStatus()).members.map((m) => `${m.id}:${m.role}`).sort();

  before(async function () {
    const markdown = await readFile(GUIDE, 'utf8');
    const table = hostTable(markdown);
    expect(table.map((h) => h.name)).to.include.members(['m1', 'm2', 'm3', 'm4', 'cs1', 'cs2', 'cs3', 'cs4', 'admin']);
    work = await mkdtemp(join(tmpdir(), 'dfs-guide-'));
    hosts = await createHosts(table.length);
    await hosts.checkReachable();
    const machines = new Map<string, Machine>();
    for (const [i, { name, example }] of table.entries()) {
      machines.set(name, { name, example, host: hosts.host(i), root: join(work, name), env: {}, units: new Map() });
      // The installation (not run here) makes /etc/dfs on every host.
      await mkdir(join(work, name, 'etc', 'dfs'), { recursive: true });
    }
    dc = new Datacenter(machines, fencedBlocks(markdown));
  });

  after(async () => {
    client?.close();
    for (const c of pinned.values()) c.close();
    try {
      await dc?.stopAll();
    } finally {
      await hosts?.destroy();
      if (work !== undefined && process.env.KEEP_TEST_DIRS !== '1') await rm(work, { recursive: true, force: true });
    }
  });

  it('the unit files pass systemd-analyze verify (with dfs where this checkout has it)', async function () {
    if (!existsSync('/usr/bin/systemd-analyze')) {
      console.log('      systemd-analyze is not installed here (apt package systemd): unit files not verified');
      this.skip();
    }
    const dir = join(work!, 'units');
    await mkdir(dir);
    for (const file of await readdir(UNITS)) {
      // A template is verified as an instance, as systemd would start it.
      const instance = file.replace('@.service', '@mnt-dfs.service');
      await writeFile(join(dir, instance), (await readFile(join(UNITS, file), 'utf8')).replaceAll(DFS_BIN, DFS_ENTRY));
    }
    const files = (await readdir(dir)).map((f) => join(dir, f));
    expect(files).to.have.length(3);
    const { stdout, stderr } = await run('systemd-analyze', ['verify', ...files]);
    expect(stdout + stderr, 'systemd-analyze verify has no complaint').to.equal('');
  });

  it('issues credentials on the admin host, one directory per host and role, and copies each to its host', async () => {
    const d = dc!;
    await d.step('credentials');
    const servers = [['m1', 'm2', 'm3', 'master'], ['cs1', 'cs2', 'cs3', 'chunkserver'], ['cs1', 'cs2', 'cs3', 'mount']] as const;
    const issued = [...servers.flatMap(([a, b, c, role]) => [a, b, c].map((name) => ({ name, role }))), { name: 'admin', role: 'admin' } as const];
    for (const { name, role } of issued) {
      const dir = join(d.machine(name).root, 'etc', 'dfs', `${role}-tls`);
      expect(certificateIdentity(await readFile(join(dir, 'cert.pem'))).role, `${dir}/cert.pem`).to.equal(role);
      expect((await stat(join(dir, 'key.pem'))).mode & 0o777, `${dir}/key.pem is its owner's alone`).to.equal(0o600);
    }
    for (const m of d.machines.values()) {
      expect(existsSync(join(m.root, 'etc', 'dfs', 'ca')), `the CA on ${m.name}`).to.equal(m.name === 'admin');
    }
  });

  it('starts 3 masters and 3 chunkservers with their credentials, and a client on another host writes and reads a file', async () => {
    const d = dc!;
    for (const m of ['m1', 'm2', 'm3']) await d.writeConfig(m, 'master');
    for (const cs of ['cs1', 'cs2', 'cs3']) await d.writeConfig(cs, 'chunkserver');
    await d.step('admin-env');
    expect(d.machine('admin').env.DFS_MASTERS).to.equal(masterAddresses('m1', 'm2', 'm3').join(','));
    expect(existsSync(join(adminCredentials().tlsDir, 'cert.pem')), "the admin's DFS_TLS_DIR holds the certificate the guide issued").to.equal(true);
    await d.step('start-masters');
    await d.step('start-chunkservers');
    client = await DfsClient.connect({ masters: masterAddresses('m1', 'm2', 'm3'), security: adminCredentials(), retry: { deadlineMs: 30_000 } });
    await waitFor('three live chunkservers', async () => ((await client!.listChunkservers()).filter((s) => s.alive).length === 3 ? true : undefined), 30_000);

    const [status, masterHealth, chunkserverHealth] = await d.step('check');
    expect(status).to.match(/leader/);
    for (const id of ['m1', 'm2', 'm3']) expect(status).to.include(id);
    expect(JSON.parse(masterHealth!)).to.have.property('leaderAddress').that.is.a('string');
    expect(JSON.parse(chunkserverHealth!)).to.include({ registered: true, address: `${d.machine('cs1').host.address}:7100` });

    const outputs = await d.step('use');
    expect(outputs.at(-1)).to.equal(await readFile('/etc/os-release', 'utf8'));
    expect((await client.readFile('/shared/os-release')).toString()).to.equal(await readFile('/etc/os-release', 'utf8'));

    // The masters speak TLS only: a plaintext client does not even connect, and is told why.
    const refused = await DfsClient.connect({ masters: masterAddresses('m1', 'm2', 'm3'), security: { insecure: true }, retry: { deadlineMs: 2_000 } }).then(
      (plaintext) => {
        plaintext.close();
        return undefined;
      },
      (err: unknown) => err,
    );
    expect(isDfsError(refused) ? refused.code : refused, 'a plaintext client of the TLS cluster').to.equal('UNAUTHENTICATED');
    expect(String(refused)).to.contain('accepts TLS connections only');
  });

  it('mounts the cluster on cs1 with the mount unit: files written there are read on another host', async () => {
    const d = dc!;
    await d.writeConfig('cs1', 'mount');
    await d.step('mount');
    const cs1 = d.machine('cs1');
    const pid = cs1.units.get('dfs-mount@mnt-dfs')!;
    // `ip netns exec` gave the mount its own mount namespace: enter it (and the host's network) to use the mount.
    const onMount = async (...command: string[]) => (await run('nsenter', ['--target', String(pid), '--mount', '--net', '--', ...command])).stdout;
    const mnt = `${cs1.root}/mnt/dfs`;
    expect(await onMount('cat', `${mnt}/shared/os-release`)).to.equal(await readFile('/etc/os-release', 'utf8'));
    await onMount('cp', `${REPO}/docs/deployment.md`, `${mnt}/shared/guide.md`);
    const copy = await d.command(d.machine('admin'), ['dfs', 'cat', '/shared/guide.md']);
    expect(copy).to.equal(await readFile(GUIDE, 'utf8'));
    await d.systemctl(cs1, ['stop', 'dfs-mount@mnt-dfs.service']);
    expect(isAlive(pid), 'the mount exits on SIGTERM').to.equal(false);
  });

  it('adds a chunkserver: it registers and takes replicas', async () => {
    const d = dc!;
    await d.writeConfig('cs4', 'chunkserver');
    await d.step('add-chunkserver');
    const cs4 = `${d.machine('cs4').host.address}:7100`;
    await waitFor('cs4 registered and alive', async () => ((await client!.listChunkservers()).some((s) => s.alive && s.server?.address === cs4) ? true : undefined), 20_000);
    // Four servers, three replicas: a few chunks are enough for the new one to get some.
    await client!.mkdir('/spread', { parents: true });
    for (let i = 0; i < 8; i++) await client!.writeFile(`/spread/f${i}`, Buffer.from(`file ${i}\n`));
    await waitFor('a replica on cs4', async () => {
      const server = (await client!.listChunkservers()).find((s) => s.server?.address === cs4);
      return Number(server?.chunkCount ?? 0) > 0 ? true : undefined;
    }, 20_000);
  });

  it('adds a master with --join and raft add, then removes it again', async () => {
    const d = dc!;
    await d.writeConfig('m4', 'master-join');
    const added = await d.step('add-master');
    expect(added.at(-1)).to.include('m4');
    expect(await raftMembers()).to.deep.equal(['m1:voter', 'm2:voter', 'm3:voter', 'm4:voter']);

    const removed = await d.step('remove-master');
    expect(removed.at(-1)).not.to.include('m4');
    expect(await raftMembers()).to.deep.equal(['m1:voter', 'm2:voter', 'm3:voter']);
    expect(d.machine('m4').units.has('dfs-master')).to.equal(false);
  });

  it('upgrades the masters one at a time as the guide says while a client appends, and loses nothing', async () => {
    const d = dc!;
    const writer = await DfsClient.connect({ masters: masterAddresses('m1', 'm2', 'm3'), security: adminCredentials(), retry: { deadlineMs: 60_000 } });
    await writer.create('/shared/upgrade.log');
    const acked: { offset: number; record: Buffer }[] = [];
    const failures: string[] = [];
    let writing = true;
    const loop = (async () => {
      for (let i = 0; writing; i++) {
        const record = Buffer.from(`record ${String(i).padStart(6, '0')} ${'x'.repeat(40)}\n`);
        try {
          acked.push({ offset: await writer.append('/shared/upgrade.log', record), record });
        } catch (err) {
          failures.push(String(err));
        }
      }
    })();
    const caughtUp = (id: string) =>
      waitFor(`${id} a caught-up follower`, async () => {
        const status = await leaderStatus();
        const member = status.members.find((m) => m.id === id);
        return status.leaderId !== id && member?.role === 'voter' && Number(member.match) >= Number(status.commit) - 5 ? true : undefined;
      }, 30_000);
    try {
      await waitFor('appends flowing', () => {
        if (failures.length > 0) throw new Error(failures[0]);
        return acked.length >= 20 ? true : undefined;
      }, 30_000);
      // The guide's example has m1 leading. The writer rides through this change of leader too.
      if ((await leaderStatus()).leaderId !== 'm1') await client!.transferLeadership('m1');
      await d.step('upgrade-follower');
      await caughtUp('m3');
      const beforeLeader = acked.length;
      await d.step('upgrade-leader');
      // The master the client asks may be m1 just restarted, which learns the leader at its first heartbeat.
      const leaderAfter = await waitFor('a leader known after the upgrade', async () => {
        const id = (await leaderStatus()).leaderId;
        return id !== '' ? id : undefined;
      }, 30_000);
      expect(leaderAfter).to.equal('m2');
      await caughtUp('m1');
      await waitFor('appends after the leader upgrade', () => (acked.length >= beforeLeader + 20 ? true : undefined), 30_000);
    } finally {
      writing = false;
      await loop;
      writer.close();
    }
    expect(failures, 'appends that failed').to.deep.equal([]);
    const data = await client!.readFile('/shared/upgrade.log');
    for (const { offset, record } of acked) {
      expect(data.subarray(offset, offset + record.length).equals(record), `record at ${offset}`).to.equal(true);
    }
    console.log(`      ${acked.length} appends acknowledged through two master restarts and a leadership transfer`);
  });
});
