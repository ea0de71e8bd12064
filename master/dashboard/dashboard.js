// The dashboard page: renders the ClusterView (master/cluster-view.ts) that
// /api/events pushes every second. Plain browser JavaScript, no build step.
// Every string from the cluster (paths, addresses, labels, messages) reaches
// the page through textContent or an attribute, never as HTML.

/** Samples kept for the charts: ten minutes at one view a second. */
const HISTORY_MAX = 600;
const CELL_NAMES = {
  P: 'primary (leased)',
  C: 'counted toward the goal',
  R: 'on a decommissioning node',
  S: 'stale (below confirmed version)',
  X: 'condemned (to delete / corrupt)',
  D: 'on a node that is down',
  '.': 'no replica',
};

const page = {
  /** The chunk map's file as asked for; empty: the default file. */
  file: '',
  /** Why the shown file was picked when the default was asked for ('' when asked for by path). */
  defaultReason: '',
  chunk: 0,
  source: undefined,
  history: [],
  lastView: undefined,
};

const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function setText(id, text) {
  $(id).textContent = text;
}

function count(n) {
  return Number(n).toLocaleString('en-US');
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function ago(ms) {
  if (ms < 1000) return `${ms} ms ago`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s ago`;
  return `${Math.round(ms / 60_000)} min ago`;
}

function capacityBar(used, total) {
  const fraction = total > 0 ? Math.min(1, used / total) : 0;
  const fill = h('span');
  fill.style.width = `${(fraction * 100).toFixed(1)}%`;
  return h('span', { class: `bar${fraction >= 0.95 ? ' full' : fraction >= 0.8 ? ' high' : ''}`, title: `${(fraction * 100).toFixed(1)}% used` }, fill);
}

/** Progress towards a goal: green as it fills, unlike a capacity bar. */
function progressBar(done, wanted) {
  const fraction = wanted > 0 ? Math.min(1, done / wanted) : 0;
  const fill = h('span');
  fill.style.width = `${(fraction * 100).toFixed(1)}%`;
  return h('span', { class: 'bar progress' }, fill);
}

// ----- the connection -----

function connect() {
  page.source?.close();
  const params = new URLSearchParams();
  if (page.file !== '') params.set('file', page.file);
  if (page.chunk > 0) params.set('chunk', String(page.chunk));
  const source = new EventSource(`/api/events?${params}`);
  page.source = source;
  source.onopen = () => setConnection(true);
  source.onerror = () => setConnection(false);
  source.onmessage = (event) => {
    if (source !== page.source) return;
    render(JSON.parse(event.data));
  };
}

function setConnection(up) {
  const el = $('connection');
  el.textContent = up ? 'live' : 'reconnecting…';
  el.className = `badge ${up ? 'live' : 'down'}`;
}

// ----- rendering -----

function render(view) {
  page.lastView = view;
  const served = view.servedBy;
  setText(
    'served-by',
    served.relayedFrom
      ? `The leader ${served.relayedFrom}'s view, via follower ${served.address}`
      : `Served by the ${served.role} ${served.address}`,
  );
  $('served-by').dataset.role = served.role;
  const banner = $('unavailable');
  banner.hidden = view.unavailable === null;
  banner.textContent = view.unavailable === null ? '' : `No cluster data: ${view.unavailable}`;

  renderRaft(view);
  const c = view.cluster;
  document.querySelector('main').classList.toggle('stale', c === null);
  if (c === null) return;
  setText('stat-nodes', `${count(c.nodeCounts.live)} / ${count(c.nodeCounts.total)}`);
  setText(
    'stat-nodes-sub',
    `${count(c.nodeCounts.dead)} dead, ${count(c.nodeCounts.unreachable)} unreachable, ` +
      `${count(c.adminCounts.decommissioning)} decommissioning, ${count(c.adminCounts.maintenance)} in maintenance`,
  );
  setText('stat-files', count(c.namespace.files));
  setText('stat-dirs', `${count(c.namespace.directories)} directories, ${count(c.namespace.trash)} in trash`);
  setText('stat-chunks', count(c.namespace.chunks));
  setText('stat-chunk-size', `chunk size ${bytes(c.chunkSizeBytes)}, default replication ${c.defaultReplication}`);
  setText('stat-capacity', `${bytes(c.capacity.usedBytes)} / ${bytes(c.capacity.totalBytes)}`);
  $('stat-capacity-bar').replaceChildren(capacityBar(c.capacity.usedBytes, c.capacity.totalBytes));
  setText('stat-used-bytes', `${count(c.capacity.usedBytes)} bytes used`);
  $('stat-used-bytes').dataset.bytes = String(c.capacity.usedBytes);
  setText('stat-under', count(c.health.underReplicated));
  setText('stat-missing', count(c.health.missing));
  setText('stat-copies', count(c.health.copiesInFlight));
  setText('stat-leases', c.acceptingLeases ? 'granting' : 'waiting out old leases');

  record(view);
  renderCharts();
  renderMovement(c.movement);
  renderNodes(c);
  renderChunkMap(c.chunkMap);
}

function renderRaft(view) {
  const r = view.raft;
  const voters = r.members.filter((m) => m.role === 'voter').length;
  setText('stat-masters', `${r.members.length}`);
  setText('stat-leader', view.leader ? `leader ${view.leader.address}` : 'no leader known');
  setText('stat-term', count(r.term));
  setText('stat-commit', `commit ${count(r.commit)}, applied ${count(r.applied)}, ${voters} voters`);
  $('raft-table').tBodies[0].replaceChildren(
    ...r.members.map((m) =>
      h(
        'tr',
        {},
        h('td', {}, m.id),
        h('td', {}, m.address),
        h('td', {}, m.role),
        h('td', {}, m.isLeader ? 'leader' : ''),
        h('td', { class: 'num' }, m.match === null ? '–' : count(m.match)),
      ),
    ),
  );
}

function renderNodes(c) {
  $('nodes-table').tBodies[0].replaceChildren(
    ...c.nodes.rows.map((n) =>
      h(
        'tr',
        { 'data-node': n.address },
        h('td', { title: n.id }, n.address),
        h('td', {}, n.zone),
        h('td', {}, n.rack),
        h('td', { class: `state-${n.state}` }, n.state),
        h('td', { class: n.adminState === 'active' ? '' : 'admin-changed' }, n.adminState),
        h('td', {}, capacityBar(n.usedBytes, n.capacityBytes), `${bytes(n.usedBytes)} / ${bytes(n.capacityBytes)}`),
        h('td', { class: 'num' }, count(n.chunks)),
        h('td', { class: 'num' }, ago(n.lastHeartbeatMsAgo)),
        h('td', { class: 'num' }, `${n.transfers.reads} / ${n.transfers.writes} / ${n.transfers.copies}`),
      ),
    ),
  );
  setText('nodes-more', c.nodes.more > 0 ? `${count(c.nodes.more)} more chunkservers not shown (dead and unreachable ones come first)` : '');
  $('zones-table').tBodies[0].replaceChildren(
    ...c.zones.rows.map((z) =>
      h(
        'tr',
        {},
        h('td', {}, z.zone),
        h('td', { class: 'num' }, count(z.live)),
        h('td', { class: 'num' }, count(z.dead)),
        h('td', {}, capacityBar(z.usedBytes, z.capacityBytes), `${bytes(z.usedBytes)} / ${bytes(z.capacityBytes)}`),
      ),
    ),
  );
  setText('zones-more', c.zones.more > 0 ? `${count(c.zones.more)} more zones not shown` : '');
}

// ----- progress over time -----

function record(view) {
  const c = view.cluster;
  const last = page.history[page.history.length - 1];
  // A follower relaying the same view twice (or a clock step back) adds nothing.
  if (last !== undefined && view.generatedAtMs <= last.t) return;
  page.history.push({
    t: view.generatedAtMs,
    under: c.health.underReplicated,
    missing: c.health.missing,
    copies: c.health.copiesInFlight,
    used: c.capacity.usedBytes,
    deviation: c.movement.rebalance.maxDeviationPct,
    // Of the decommissions shown (the view caps them).
    left: c.movement.decommissions.rows.reduce((sum, d) => sum + d.chunksLeft, 0),
  });
  if (page.history.length > HISTORY_MAX) page.history.shift();
}

function renderCharts() {
  $('chart-replication').replaceChildren(
    chart(
      [
        { key: 'under', name: 'under-replicated', cls: 'series-under' },
        { key: 'missing', name: 'missing', cls: 'series-missing' },
        { key: 'copies', name: 'copies in flight', cls: 'series-copies' },
      ],
      count,
    ),
  );
  $('chart-used').replaceChildren(chart([{ key: 'used', name: 'bytes used', cls: 'series-used' }], bytes));
  $('chart-rebalance').replaceChildren(chart([{ key: 'deviation', name: 'percentage points', cls: 'series-moved' }], (v) => Number(v).toFixed(1)));
  $('chart-decommission').replaceChildren(chart([{ key: 'left', name: 'replicas left', cls: 'series-under' }], count));
}

function renderMovement(m) {
  const r = m.rebalance;
  const since = r.sinceStartMs === null ? '' : `, started ${ago(r.sinceStartMs)}`;
  $('rebalance').replaceChildren(
    h('div', { class: 'label' }, 'Rebalance'),
    h('div', { class: 'value', id: 'rebalance-state' }, `${r.state}${r.background ? ' (background)' : ''}`),
    h('div', {}, progressBar(r.movesDone, r.movesPlanned), `moves ${count(r.movesDone)} of ${count(r.movesPlanned)} done, ${count(r.movesFailed)} failed, ${count(r.movesInFlight)} in flight (at most ${r.maxConcurrent})`),
    h('div', {}, progressBar(r.bytesMoved, r.bytesPlanned), `${bytes(r.bytesMoved)} of ${bytes(r.bytesPlanned)} moved`),
    h(
      'div',
      { class: 'sub' },
      r.state === 'idle'
        ? 'no rebalance has run under this leader'
        : `mean use ${r.meanUsedPct.toFixed(1)}%, farthest node ${r.maxDeviationPct.toFixed(1)} points from it (threshold ${r.thresholdPct}%)${since}`,
    ),
  );
  $('decommission-table').tBodies[0].replaceChildren(
    ...m.decommissions.rows.map((d) =>
      h(
        'tr',
        { 'data-node': d.address },
        h('td', { title: d.serverId }, d.address || d.serverId),
        h('td', {}, d.state),
        h('td', { class: d.alive ? 'state-live' : 'state-dead' }, d.alive ? 'up' : 'down'),
        h('td', {}, progressBar(d.chunksHeld - d.chunksLeft, d.chunksHeld), d.chunksHeld > 0 ? `${((100 * (d.chunksHeld - d.chunksLeft)) / d.chunksHeld).toFixed(0)}%` : 'nothing held'),
        h('td', { class: 'num' }, count(d.chunksHeld)),
        h('td', { class: 'num' }, count(d.chunksLeft)),
      ),
    ),
  );
  setText('decommission-more', m.decommissions.rows.length === 0 ? 'none' : m.decommissions.more > 0 ? `${count(m.decommissions.more)} more not shown` : '');
  $('maintenance-table').tBodies[0].replaceChildren(
    ...m.maintenance.rows.map((n) =>
      h('tr', {}, h('td', { title: n.serverId }, n.address || n.serverId), h('td', { class: n.alive ? 'state-live' : 'state-dead' }, n.alive ? 'up' : 'down')),
    ),
  );
  setText('maintenance-more', m.maintenance.rows.length === 0 ? 'none' : m.maintenance.more > 0 ? `${count(m.maintenance.more)} more not shown` : '');
}

/** A small line chart of page.history: one polyline per series, scaled to the largest value. */
function chart(series, format) {
  const width = 360;
  const height = 90;
  const pad = { left: 4, right: 4, top: 8, bottom: 14 };
  const samples = page.history;
  const max = Math.max(1, ...samples.flatMap((s) => series.map((d) => s[d.key])));
  const t0 = samples.length > 0 ? samples[0].t : 0;
  const t1 = samples.length > 0 ? samples[samples.length - 1].t : 1;
  const span = Math.max(1, t1 - t0);
  const x = (t) => pad.left + ((t - t0) / span) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  root.append(svg('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
  root.append(svg('text', { x: pad.left, y: pad.top }, `max ${format(max)}`));
  root.append(svg('text', { x: width - pad.right, y: height - 2, 'text-anchor': 'end' }, `last ${Math.round(span / 1000)} s`));
  for (const d of series) {
    const points = samples.map((s) => `${x(s.t).toFixed(1)},${y(s[d.key]).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { class: d.cls, points }));
  }
  const legend = h('div', {}, ...series.map((d) => [h('span', { class: `key ${d.cls}` }), `${d.name} ${samples.length > 0 ? format(samples[samples.length - 1][d.key]) : ''}`]));
  return h('div', {}, root, legend);
}

// ----- the chunk map -----

function renderChunkMap(map) {
  const info = $('chunk-map-info');
  const grid = $('chunk-map');
  if (map.kind === 'none') {
    info.textContent = map.requestedPath === '' ? map.reason : `Cannot show ${map.requestedPath}: ${map.reason}`;
    info.className = map.requestedPath === '' ? 'muted' : 'error';
    $('chunk-map-coverage').replaceChildren();
    grid.replaceChildren();
    setText('chunk-map-more', '');
    return;
  }
  if (page.file === '') {
    // Keep showing the default file picked now, rather than searching the namespace every second.
    page.file = map.path;
    page.defaultReason = map.chosen === 'largest-replicate-all' ? 'the largest file with replication all' : 'the largest file';
    if (!map.searchComplete) page.defaultReason += ' among the first entries searched';
    $('file-path').value = map.path;
    connect();
  }
  info.className = 'muted';
  const goal = map.replicateAll ? `all (${map.goal} nodes)` : String(map.goal);
  info.textContent =
    `${map.path}${page.defaultReason ? ` (default: ${page.defaultReason})` : ''}: ${bytes(map.sizeBytes)}, ` +
    `${count(map.chunkSlots)} chunk slots, replication ${goal}` +
    (map.chunkSlots > 0 ? `; chunks ${count(map.firstChunk)}–${count(Math.min(map.chunkSlots, map.firstChunk + map.pageSlots) - 1)} shown` : '');
  renderCoverage(map);

  const head = h('tr', {}, h('th', { class: 'chunk' }, 'chunk'), ...map.nodes.map((n) => h('th', { class: 'node', title: `${n.address} (${n.zone}/${n.rack}, ${n.state})` }, n.address)), h('th', { class: 'chunk' }, 'counted / goal (held)'));
  const rows = map.rows.map((r) =>
    h(
      'tr',
      { 'data-chunk': r.index },
      h('th', { class: 'chunk', title: `handle ${r.handle}, version ${r.version}, confirmed ${r.confirmedVersion}` }, String(r.index)),
      ...[...r.cells].map((code, i) =>
        h('td', { class: `cell cell-${code === '.' ? 'none' : code}`, title: `chunk ${r.index} on ${map.nodes[i]?.address ?? '?'}: ${CELL_NAMES[code] ?? code}` }),
      ),
      h('td', { class: 'info' }, `${r.counted} / ${map.goal} (${r.held})`, r.copying ? h('span', { class: 'copying' }, ' copying') : ''),
    ),
  );
  grid.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  const more = [];
  if (map.moreNodes > 0) more.push(`${count(map.moreNodes)} more nodes not shown as columns`);
  if (map.firstChunk > 0) more.push(`${count(map.firstChunk)} chunks before`);
  if (map.moreChunksAfter > 0) more.push(`${count(map.moreChunksAfter)} more chunks after`);
  setText('chunk-map-more', more.join('; '));
  $('chunk-prev').disabled = map.firstChunk === 0;
  $('chunk-next').disabled = map.moreChunksAfter === 0;
}

/**
 * How far the file is from its goal: counted replicas against wanted ones.
 * For a file with replication "all" this is its distribution to the fleet
 * as placed replicas show it; fleet distribution's own progress (blocks in
 * flight per node) will be drawn here once the master tracks it.
 */
function renderCoverage(map) {
  const cov = map.coverage;
  const pct = cov.wantedReplicas > 0 ? (100 * cov.countedReplicas) / cov.wantedReplicas : 100;
  const counted = cov.partial ? ` (over the first ${count(cov.countedChunks)} chunks)` : '';
  $('chunk-map-coverage').replaceChildren(
    h(
      'div',
      {},
      progressBar(cov.countedReplicas, cov.wantedReplicas),
      `${map.replicateAll ? 'Distributed' : 'Replicated'}: ${count(cov.countedReplicas)} of ${count(cov.wantedReplicas)} replicas (${pct.toFixed(1)}%), ` +
        `${count(cov.chunksBelowGoal)} chunks below goal${counted}`,
    ),
  );
}

function renderLegend() {
  $('chunk-map-legend').replaceChildren(
    ...Object.entries(CELL_NAMES).map(([code, name]) => h('span', {}, h('span', { class: `swatch cell-${code === '.' ? 'none' : code}` }), name)),
  );
}

// ----- controls -----

function showFile(path, chunk) {
  page.file = path;
  page.defaultReason = '';
  page.chunk = chunk;
  const url = new URL(window.location.href);
  if (path === '') url.searchParams.delete('file');
  else url.searchParams.set('file', path);
  if (chunk === 0) url.searchParams.delete('chunk');
  else url.searchParams.set('chunk', String(chunk));
  window.history.replaceState(null, '', url);
  connect();
}

function pageSize() {
  const map = page.lastView?.cluster?.chunkMap;
  return map?.kind === 'file' ? map.pageSlots : 0;
}

$('file-form').addEventListener('submit', (event) => {
  event.preventDefault();
  showFile($('file-path').value.trim(), 0);
});
$('file-default').addEventListener('click', () => {
  $('file-path').value = '';
  showFile('', 0);
});
$('chunk-prev').addEventListener('click', () => showFile(page.file, Math.max(0, page.chunk - pageSize())));
$('chunk-next').addEventListener('click', () => {
  const map = page.lastView?.cluster?.chunkMap;
  showFile(page.file, (map?.kind === 'file' ? map.firstChunk : page.chunk) + pageSize());
});

const initial = new URLSearchParams(window.location.search);
page.file = initial.get('file') ?? '';
page.chunk = Number(initial.get('chunk') ?? 0) || 0;
$('file-path').value = page.file;
renderLegend();
connect();
