import type { Command } from 'commander';
import { DfsClient } from '../client-lib/index.js';
import type { RaftStatusResponse__Output } from '../proto/generated/dfs/master/RaftStatusResponse.js';
import { findMasters } from './cluster-address.js';
import type { Output } from './output.js';

interface CommonOptions {
  masters?: string;
  dir: string;
}

/** `dfs admin ...`: operator commands. */
export function addAdminCommands(program: Command, output: Output, env: NodeJS.ProcessEnv): void {
  const admin = program.command('admin').description('operate the cluster');
  const raft = admin.command('raft').description('the masters\' Raft group');
  const withClient = async <T>(opts: CommonOptions, fn: (client: DfsClient) => Promise<T>): Promise<T> => {
    const client = await DfsClient.connect({ masters: await findMasters(opts.masters, env, opts.dir) });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };
  const command = (parent: Command, name: string, description: string) =>
    parent
      .command(name)
      .description(description)
      .option('--masters <list>', 'master addresses (default: $DFS_MASTERS, or DIR/cluster.json)')
      .option('--dir <dir>', 'local cluster directory holding cluster.json', './data');

  command(raft, 'status', 'members with their ids, addresses and roles, as the leader sees them').action(async (opts: CommonOptions) => {
    await withClient(opts, async (client) => {
      let status = await client.raftStatus();
      // Any master answers for itself; the leader's answer is the complete one.
      if (status.role !== 'leader' && status.leaderAddress !== '') {
        const leader = await DfsClient.connect({ masters: [status.leaderAddress] });
        try {
          status = await leader.raftStatus();
        } finally {
          leader.close();
        }
      }
      output.result(statusJson(status), () => formatStatus(status));
    });
  });

  command(raft, 'add <address>', 'add the master at ADDRESS (started with --join); waits until it has caught up and votes').action(
    async (address: string, opts: CommonOptions) => {
      await withClient(opts, async (client) => {
        const status = await client.addMaster(address);
        output.result(statusJson(status), () => formatStatus(status));
      });
    },
  );

  command(raft, 'remove <id>', 'remove the master with raft id ID from the group').action(async (id: string, opts: CommonOptions) => {
    await withClient(opts, async (client) => {
      const status = await client.removeMaster(id);
      output.result(statusJson(status), () => formatStatus(status));
    });
  });

  command(raft, 'transfer <id>', 'hand leadership to the master with raft id ID').action(async (id: string, opts: CommonOptions) => {
    await withClient(opts, async (client) => {
      const status = await client.transferLeadership(id);
      output.result(statusJson(status), () => `leadership moved to ${status.leaderId} (${status.leaderAddress})`);
    });
  });
}

function statusJson(s: RaftStatusResponse__Output) {
  return {
    leader: s.leaderId === '' ? null : { id: s.leaderId, address: s.leaderAddress },
    term: Number(s.term),
    commit: Number(s.commit),
    members: s.members.map((m) => ({
      id: m.id,
      address: m.address,
      role: m.id === s.leaderId ? 'leader' : m.role === 'voter' ? 'follower' : 'learner',
      voter: m.role === 'voter',
      match: Number(m.match),
    })),
  };
}

function formatStatus(s: RaftStatusResponse__Output): string {
  const rows = statusJson(s).members.map(
    (m) => `  ${m.id.padEnd(16)} ${m.address.padEnd(22)} ${m.role.padEnd(9)} match ${m.match}`,
  );
  return [`term ${s.term}, commit ${s.commit}, leader ${s.leaderId || 'none'}`, ...rows].join('\n');
}
