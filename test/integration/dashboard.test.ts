import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { callUnary } from '../../common/grpc-client-pool.js';
import type { ClusterView } from '../../master/cluster-view.js';
import { rawClients } from '../harness/raw-clients.js';
import { TestCluster, waitFor } from '../harness/test-cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-artifacts');

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/** A count the page shows, as a number (it groups thousands with commas). */
async function numberIn(page: Page, selector: string): Promise<number> {
  return Number((await textOf(page, selector)).replace(/,/g, ''));
}

/** The text of an element, once the page has rendered it. */
async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? '';
}

describe('dashboard (real cluster, headless Chromium)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let browser: Browser;
  let leaderUrl: string;
  let followerUrl: string;
  let followerAddress: string;
  let leaderAddress: string;

  before(async () => {
    cluster = await TestCluster.start({ masters: 3, chunkservers: 3 });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    const masters = ['master-0', 'master-1', 'master-2'].map((name) => cluster.process(name));
    // The leader's view lists every chunkserver once they have registered with it.
    const leader = await waitFor('a leader that knows every chunkserver', async () => {
      for (const m of masters) {
        const { body } = await getJson<ClusterView>(`http://127.0.0.1:${m.httpPort}/api/cluster`);
        if (body.servedBy.role === 'leader' && body.cluster?.nodeCounts.live === 3) return m;
      }
      return undefined;
    });
    const follower = masters.find((m) => m !== leader)!;
    leaderUrl = `http://127.0.0.1:${leader.httpPort}/`;
    followerUrl = `http://127.0.0.1:${follower.httpPort}/`;
    followerAddress = follower.address;
    leaderAddress = leader.address;
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('shows every chunkserver from a follower and from the leader, and updates after a write without reloading', async () => {
    const fromFollower = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const fromLeader = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    // A reload would count here: the numbers must change in the page as first loaded.
    let loads = 0;
    for (const p of [fromFollower, fromLeader]) {
      p.on('pageerror', (err) => pageErrors.push(err.message));
      p.on('load', () => loads++);
    }
    await fromFollower.goto(followerUrl);
    await fromLeader.goto(leaderUrl);

    const addresses = cluster.chunkservers().map((p) => p.address);
    for (const page of [fromFollower, fromLeader]) {
      for (const address of addresses) await page.locator(`#nodes-table tr[data-node="${address}"] .state-live`).waitFor();
      expect(await page.locator('#nodes-table tbody tr').count()).to.equal(3);
      await page.locator('#raft-table tbody tr').nth(2).waitFor();
      expect(await page.locator('#connection').textContent()).to.equal('live');
    }
    expect(await textOf(fromFollower, '#served-by')).to.contain(`via follower ${followerAddress}`);
    expect(await textOf(fromLeader, '#served-by')).to.match(/^Served by the leader /);
    expect(await textOf(fromFollower, '#chunk-map-info')).to.equal('no file holds any data yet');

    const filesBefore = await numberIn(fromFollower, '#stat-files');
    const chunksBefore = await numberIn(fromLeader, '#stat-chunks');
    expect(loads).to.equal(2);

    const client = await cluster.client();
    const data = Buffer.alloc(2 * cluster.chunkSizeBytes + 1000, 7);
    await client.writeFile('/watched.bin', data);

    for (const page of [fromFollower, fromLeader]) {
      await waitFor('files and chunks to count the new file', async () =>
        (await numberIn(page, '#stat-files')) === filesBefore + 1 && (await numberIn(page, '#stat-chunks')) === chunksBefore + 3 ? true : undefined,
      );
      // The default chunk map is the new (largest) file: 3 chunks, each on every one of the 3 nodes.
      await waitFor('the chunk map of the new file', async () => ((await page.locator('#chunk-map td.cell-C, #chunk-map td.cell-P').count()) === 9 ? true : undefined));
      expect(await textOf(page, '#chunk-map-info')).to.contain('/watched.bin (default: the largest file)');
    }
    // Bytes used come from chunkserver heartbeats, which follow within a heartbeat interval.
    await waitFor('bytes used to count the new file', async () =>
      Number(await fromFollower.locator('#stat-used-bytes').getAttribute('data-bytes')) >= data.length * 3 ? true : undefined,
    );
    expect(loads).to.equal(2);

    await mkdir(ARTIFACTS, { recursive: true });
    await fromFollower.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(pageErrors).to.deep.equal([]);
    await fromFollower.close();
    await fromLeader.close();
  });

  it('shows a chunkserver put in maintenance and back, live', async () => {
    const page = await browser.newPage();
    await page.goto(followerUrl);
    const node = cluster.chunkservers()[2]!.address;
    await page.locator(`#nodes-table tr[data-node="${node}"]`).waitFor();
    expect(await textOf(page, '#maintenance-more')).to.equal('none');
    const raw = rawClients(leaderAddress, cluster);
    try {
      await callUnary(raw.admin(), 'SetNodeState', { node, state: 'NODE_ADMIN_STATE_MAINTENANCE' }, 5_000);
      await page.locator('#maintenance-table tbody tr').first().waitFor();
      expect(await textOf(page, '#maintenance-table tbody')).to.equal(`${node}up`);
      expect(await textOf(page, `#nodes-table tr[data-node="${node}"] td.admin-changed`)).to.equal('maintenance');
      expect(await textOf(page, '#stat-nodes-sub')).to.contain('1 in maintenance');
      await callUnary(raw.admin(), 'SetNodeState', { node, state: 'NODE_ADMIN_STATE_ACTIVE' }, 5_000);
      await page.locator('#maintenance-table tbody tr').first().waitFor({ state: 'detached' });
    } finally {
      raw.close();
    }
    await page.close();
  });

  it('renders names from the cluster as text, and explains a path it cannot show', async () => {
    const client = await cluster.client();
    const name = '<img src=x id=injected onerror="window.pwned=1">';
    await client.writeFile(`/${name}`, Buffer.from('x'));
    const page = await browser.newPage();
    await page.goto(`${followerUrl}?file=${encodeURIComponent('/' + name)}`);
    await page.locator('#chunk-map tbody tr').first().waitFor();
    expect(await textOf(page, '#chunk-map-info')).to.contain(`/${name}:`);
    expect(await page.locator('#injected').count()).to.equal(0);
    expect(await page.locator('#chunk-map-info img').count()).to.equal(0);

    await page.fill('#file-path', '/no/such/file');
    await page.click('#file-form button[type=submit]');
    await page.locator('#chunk-map-info.error').waitFor();
    expect(await textOf(page, '#chunk-map-info')).to.match(/^Cannot show \/no\/such\/file: /);
    expect(new URL(page.url()).searchParams.get('file')).to.equal('/no/such/file');
    await page.close();
  });

  it('answers bad query parameters with 400 and unknown paths with 404', async () => {
    const bad = await getJson<{ error: string; message: string }>(`${followerUrl}api/cluster?chunk=-1`);
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.equal('INVALID_ARGUMENT');
    expect((await fetch(`${followerUrl}api/nothing`)).status).to.equal(404);
    const css = await fetch(`${leaderUrl}dashboard.css`);
    expect(css.status).to.equal(200);
    expect(css.headers.get('content-type')).to.match(/^text\/css/);
  });

  it('says so on a follower when no leader answers', async () => {
    const page = await browser.newPage();
    await page.goto(followerUrl);
    await page.locator('#nodes-table tbody tr').first().waitFor();
    // Leave the follower alone: no majority, so no leader can be elected.
    for (const name of ['master-0', 'master-1', 'master-2']) {
      if (cluster.process(name).address !== followerAddress) await cluster.killAndWait(name);
    }
    await page.locator('#unavailable').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await textOf(page, '#unavailable')).to.match(/^No cluster data: (no leader is known|the leader \S+ did not answer)/);
    expect(await page.locator('main.stale').count()).to.equal(1);
    await page.close();
  });
});
