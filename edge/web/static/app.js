// hooktunnel web UI: the live list, filters, paging and the admin API.
//
// The store may hold 100,000 messages; the page never asks for more than
// PAGE at a time and keeps at most MAX_ROWS rows in the DOM. Live messages
// (server-sent events) are applied once per animation frame.
'use strict';

const PAGE = 100;
const MAX_ROWS = 500;
const API = 'api/v1/'; // relative: the UI works wherever the API is beside it

const $ = (id) => document.getElementById(id);

const state = {
  filter: { tunnel: '', decision: '', status: '', q: '' },
  next: '',          // cursor of the page after the last row
  following: true,   // the list starts at the newest message
  missed: 0,         // live messages not shown while not following
  loading: null,     // AbortController of the listing in flight
  selected: '',      // id of the message in the detail pane
  pending: [],       // live messages waiting for the next frame
  frame: 0,
  token: sessionStorage.getItem('hooktunnel.token') || '',
  events: null,
};
const rows = new Map(); // id → <tr>, in DOM order newest first

// ---- the API ----

class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function api(path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body) headers['Content-Type'] = 'application/json';
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const res = await fetch(API + path, { ...opts, headers, cache: 'no-store', credentials: 'same-origin' });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 401) askToken();
  if (!res.ok) throw new APIError(res.status, body && body.error, body && body.message);
  return body;
}

function listQuery(before) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) if (v) p.set(k, v);
  if (before) p.set('before', before);
  p.set('limit', String(PAGE));
  return 'messages?' + p.toString();
}

// ---- the list ----

function rowFor(m) {
  return h('tr', { dataset: { id: m.id }, tabindex: '-1', 'aria-current': m.id === state.selected ? 'true' : null },
    h('td', { class: 'c-time' }, h('time', { datetime: m.received_at, title: fmtFullTime(m.received_at) }, fmtTime(m.received_at))),
    h('td', { class: 'c-tunnel' }, m.tunnel),
    h('td', { class: 'c-req', title: requestTarget(m) }, h('span', { class: `method m-${m.method}` }, m.method), ' ',
      h('span', { class: 'path' }, m.path, m.query ? h('span', { class: 'query' }, '?' + m.query) : null)),
    h('td', { class: 'c-event', title: m.delivery_id ? 'delivery ' + m.delivery_id : null },
      m.event ? h('span', { class: 'event' }, m.event) : h('span', { class: 'muted' }, m.provider || '—'),
      m.delivery_id ? h('span', { class: 'delivery' }, m.delivery_id) : null),
    h('td', { class: 'c-status' }, statusPill(m.status)),
    h('td', { class: 'c-decision' }, decisionBadge(m), m.replay_of ? [' ', h('span', { class: 'tag', title: 'replay of ' + m.replay_of }, 'replay')] : null),
    h('td', { class: 'c-dur' }, fmtDuration(m.duration_ns)));
}

function firstID() {
  const tr = $('rows').firstElementChild;
  return tr ? tr.dataset.id : '';
}

// reload lists the newest page for the current filters.
async function reload() {
  if (state.loading) state.loading.abort();
  const ctl = new AbortController();
  state.loading = ctl;
  state.following = true;
  state.missed = 0;
  try {
    const page = await api(listQuery(''), { signal: ctl.signal });
    if (ctl.signal.aborted) return;
    clear($('rows'));
    rows.clear();
    appendRows(page.messages || []);
    state.next = page.next || '';
  } catch (err) {
    if (err.name !== 'AbortError') toast(err.message);
  } finally {
    if (state.loading === ctl) state.loading = null;
    renderChrome();
    scheduleFlush();
  }
}

function appendRows(list) {
  const frag = document.createDocumentFragment();
  for (const m of list) {
    if (rows.has(m.id)) continue;
    const tr = rowFor(m);
    rows.set(m.id, tr);
    frag.append(tr);
  }
  $('rows').append(frag);
}

// older appends the page after the last row; past MAX_ROWS the newest rows
// leave the DOM and the list stops following live messages.
async function older() {
  if (!state.next || state.loading) return;
  const ctl = new AbortController();
  state.loading = ctl;
  $('older').disabled = true;
  try {
    const page = await api(listQuery(state.next), { signal: ctl.signal });
    if (ctl.signal.aborted) return;
    appendRows(page.messages || []);
    state.next = page.next || '';
    let drop = rows.size - MAX_ROWS;
    if (drop > 0) state.following = false;
    for (; drop > 0; drop--) removeRow($('rows').firstElementChild);
  } catch (err) {
    if (err.name !== 'AbortError') toast(err.message);
  } finally {
    if (state.loading === ctl) state.loading = null;
    $('older').disabled = false;
    renderChrome();
    scheduleFlush();
  }
}

function removeRow(tr) {
  rows.delete(tr.dataset.id);
  tr.remove();
}

// matches applies the filters to a live message, as the API does.
function matches(m) {
  const f = state.filter;
  if (f.tunnel && m.tunnel !== f.tunnel) return false;
  if (f.decision && m.decision !== f.decision) return false;
  if (f.status && String(Math.floor(m.status / 100)) !== f.status[0]) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    // The API searches bodies too; a live summary has none, so a message
    // that matches only by its body shows up on the next listing.
    const hay = [m.path, m.event, m.delivery_id, ...Object.entries(m.header || {}).flat(2)].join('\n').toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

// ---- live messages (events.js reads the stream) ----

function onEvent(m) {
  state.pending.push(m);
  scheduleFlush();
}

function scheduleFlush() {
  if (!state.frame && state.pending.length) state.frame = requestAnimationFrame(flush);
}

function flush() {
  state.frame = 0;
  if (state.loading) return; // applied when the listing is in
  const batch = state.pending;
  state.pending = [];
  const fresh = new Map();
  for (const m of batch) {
    const tr = rows.get(m.id);
    if (tr) {
      const nt = rowFor(m);
      const focused = document.activeElement === tr;
      tr.replaceWith(nt);
      rows.set(m.id, nt);
      if (focused) nt.focus();
    } else if (matches(m)) {
      fresh.set(m.id, m); // the last event of an id wins
    }
    if (m.id === state.selected) refreshDetailSoon();
  }
  const top = firstID();
  const add = [...fresh.values()].filter((m) => !top || m.id > top).sort((a, b) => (a.id < b.id ? 1 : -1));
  if (!add.length) return renderChrome();
  if (!state.following) {
    state.missed += add.length;
    return renderChrome();
  }
  const frag = document.createDocumentFragment();
  for (const m of add) {
    const tr = rowFor(m);
    tr.classList.add('new');
    rows.set(m.id, tr);
    frag.append(tr);
  }
  $('rows').prepend(frag);
  const body = $('rows');
  while (rows.size > MAX_ROWS) {
    removeRow(body.lastElementChild);
    state.next = body.lastElementChild.dataset.id; // ids are the cursor
  }
  renderChrome();
}

// ---- the detail pane ----

let detailSeq = 0;
let refreshTimer = 0;

async function select(id, opts = {}) {
  state.selected = id;
  markSelected();
  const tr = rows.get(id);
  if (tr) {
    if (opts.focus) tr.focus();
    tr.scrollIntoView({ block: 'nearest' });
  }
  writeHash();
  document.body.classList.add('has-detail');
  await showDetail(id, opts.retries || 0);
}

async function showDetail(id, retries) {
  const seq = ++detailSeq;
  const pane = $('detail');
  if (!pane.querySelector(`[data-for="${CSS.escape(id)}"]`)) pane.setAttribute('aria-busy', 'true');
  for (let i = 0; ; i++) {
    try {
      const m = await api('messages/' + encodeURIComponent(id));
      if (seq !== detailSeq) return;
      const scroll = pane.scrollTop;
      const sameMessage = pane.firstElementChild && pane.firstElementChild.dataset.for === id;
      const view = renderDetail(m, { replay, release, open: (other) => select(other), close: closeDetail });
      view.dataset.for = id;
      pane.replaceChildren(view);
      if (sameMessage) pane.scrollTop = scroll;
      break;
    } catch (err) {
      if (seq !== detailSeq) return;
      if (err.status === 404 && i < retries) {
        await new Promise((r) => setTimeout(r, 200 * (i + 1)));
        continue;
      }
      pane.replaceChildren(h('div', { class: 'placeholder' }, h('p', null, err.status === 404 ? 'This message is gone (purged or unknown).' : err.message)));
      break;
    }
  }
  pane.removeAttribute('aria-busy');
}

function refreshDetailSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => state.selected && showDetail(state.selected, 0), 250);
}

function closeDetail() {
  state.selected = '';
  detailSeq++;
  markSelected();
  document.body.classList.remove('has-detail');
  $('detail').replaceChildren(h('div', { class: 'placeholder' }, h('p', null, 'Select a message to see its request, the edge’s decision and the app’s response.')));
  writeHash();
}

// replay sends message id again; edit, when given, is {header, body}
// (base64) to send instead of what was stored.
async function replay(id, btn, edit) {
  const label = btn.textContent;
  btn.disabled = true;
  btn.textContent = 'Replaying…';
  try {
    const opts = { method: 'POST' };
    if (edit) opts.body = JSON.stringify(edit);
    const r = await api('messages/' + encodeURIComponent(id) + '/replay', opts);
    toast(`Replayed as ${r.id}`, 'ok');
    await select(r.id, { retries: 5 });
  } catch (err) {
    toast(`Replay failed: ${err.message}`);
    btn.disabled = false;
    btn.textContent = label;
  }
}

// release hands held message id to the queue; the detail then shows it
// pending, and delivered once the queue has sent it.
async function release(id, btn) {
  btn.disabled = true;
  btn.textContent = 'Releasing…';
  try {
    await api('messages/' + encodeURIComponent(id) + '/release', { method: 'POST' });
    toast(`Released ${id}`, 'ok');
    await showDetail(id, 0);
  } catch (err) {
    toast(`Release failed: ${err.message}`);
    btn.disabled = false;
    btn.textContent = 'Release';
  }
}

// ---- page chrome: banner, count, empty state, live indicator ----

// markSelected marks the selected row; it, or else the first row, is the
// one the Tab key reaches (the arrow keys move from there).
function markSelected() {
  const body = $('rows');
  for (const tr of body.querySelectorAll('tr[aria-current]')) tr.removeAttribute('aria-current');
  for (const tr of body.querySelectorAll('tr[tabindex="0"]')) tr.tabIndex = -1;
  const cur = rows.get(state.selected);
  if (cur) cur.setAttribute('aria-current', 'true');
  const tab = cur || body.firstElementChild;
  if (tab) tab.tabIndex = 0;
}

function renderChrome() {
  markSelected();
  const banner = $('banner');
  if (!state.following) {
    banner.hidden = false;
    $('banner-text').textContent = state.missed ? `${state.missed} newer message${state.missed === 1 ? '' : 's'} not shown.` : 'Showing older messages.';
    $('banner-action').textContent = 'Back to newest';
  } else {
    banner.hidden = true;
  }
  $('older').hidden = !state.next;
  const filtered = Object.values(state.filter).some(Boolean);
  $('count').textContent = rows.size ? `${rows.size} shown${state.next ? '' : ' · all'}` : '';
  const empty = $('empty');
  empty.hidden = rows.size > 0 || !!state.loading;
  if (!empty.hidden) {
    empty.replaceChildren(filtered
      ? h('p', null, 'No messages match these filters.')
      : h('p', null, 'No webhooks yet. New ones appear here as they arrive.'));
    if (!filtered) tunnelHints(empty);
  }
}

let tunnelURLs = [];

function tunnelHints(el) {
  if (!tunnelURLs.length) return;
  el.append(h('p', { class: 'muted' }, 'Send one to:'), h('ul', { class: 'urls' }, tunnelURLs.slice(0, 8).map((u) => h('li', null, h('code', null, u)))));
}

async function loadTunnels() {
  try {
    const r = await api('tunnels');
    const list = $('tunnel-names');
    clear(list);
    tunnelURLs = [];
    for (const t of r.tunnels || []) {
      list.append(h('option', { value: t.name }));
      if (t.urls && t.urls.length) tunnelOrigins.set(t.name, new URL(t.urls[0]).origin);
      // Each URL with where the agent sends it, when there are several targets.
      const routes = t.routes || [];
      const several = new Set(routes.map((rt) => rt.target || rt.local || '')).size > 1;
      (t.urls || []).forEach((u, i) => {
        const rt = routes[i] || {};
        const to = [rt.target, rt.local].filter(Boolean).join(': ');
        tunnelURLs.push(several && to ? u + '  →  ' + to : u);
      });
    }
    renderChrome();
  } catch {
    // the tunnel list only helps with filtering
  }
}

// loadAlerts shows the alerts firing on the edge. The agent's inspector
// has no alerts API; there the indicator stays hidden.
async function loadAlerts() {
  const el = $('alerts');
  try {
    const r = await api('alerts?limit=1');
    const active = r.active || [];
    el.hidden = active.length === 0;
    el.textContent = active.length === 1 ? '1 alert firing' : active.length + ' alerts firing';
    el.title = active.map((a) => [a.rule, a.tunnel, a.route].filter(Boolean).join(' · ')).join('\n');
  } catch {
    el.hidden = true;
  }
}

function setLive(s, text) {
  const el = $('live');
  el.dataset.state = s;
  el.textContent = text;
}

let toastTimer = 0;
function toast(text, kind) {
  const el = $('toast');
  el.textContent = text;
  el.className = 'toast ' + (kind || 'error');
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

function askToken() {
  const dlg = $('auth');
  if (!dlg.open) dlg.showModal();
}

// ---- filters and the URL ----

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  for (const k of Object.keys(state.filter)) state.filter[k] = p.get(k) || '';
  $('f-tunnel').value = state.filter.tunnel;
  $('f-decision').value = state.filter.decision;
  $('f-status').value = state.filter.status;
  $('f-q').value = state.filter.q;
  return p.get('id') || '';
}

function writeHash() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) if (v) p.set(k, v);
  if (state.selected) p.set('id', state.selected);
  const s = p.toString();
  history.replaceState(null, '', s ? '#' + s : location.pathname + location.search);
}

let filterTimer = 0;
function filtersChanged(delay) {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    const f = {
      tunnel: $('f-tunnel').value.trim(),
      decision: $('f-decision').value,
      status: $('f-status').value,
      q: $('f-q').value.trim(),
    };
    if (JSON.stringify(f) === JSON.stringify(state.filter)) return;
    state.filter = f;
    writeHash();
    reload();
  }, delay);
}

// ---- keyboard ----

function moveSelection(step) {
  const cur = rows.get(state.selected);
  const next = cur ? (step > 0 ? cur.nextElementSibling : cur.previousElementSibling) : $('rows').firstElementChild;
  if (next) select(next.dataset.id, { focus: true });
}

function onKey(ev) {
  const t = ev.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement;
  if (ev.key === 'Escape') {
    if (typing) return t.blur();
    if (state.selected) closeDetail();
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === '/') {
    ev.preventDefault();
    $('f-q').focus();
  } else if (ev.key === 'j' || ev.key === 'ArrowDown') {
    ev.preventDefault();
    moveSelection(1);
  } else if (ev.key === 'k' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    moveSelection(-1);
  }
}

// ---- start ----

function start() {
  const tbody = $('rows');
  tbody.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (tr) select(tr.dataset.id);
  });
  tbody.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (tr && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      select(tr.dataset.id, { focus: true });
    }
  });
  $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); filtersChanged(0); });
  $('f-tunnel').addEventListener('change', () => filtersChanged(0));
  $('f-tunnel').addEventListener('input', () => filtersChanged(500));
  $('f-decision').addEventListener('change', () => filtersChanged(0));
  $('f-status').addEventListener('change', () => filtersChanged(0));
  $('f-q').addEventListener('input', () => filtersChanged(300));
  $('f-clear').addEventListener('click', () => {
    for (const id of ['f-tunnel', 'f-decision', 'f-status', 'f-q']) $(id).value = '';
    filtersChanged(0);
  });
  $('older').addEventListener('click', older);
  $('banner-action').addEventListener('click', reload);
  $('auth-form').addEventListener('submit', () => {
    state.token = $('auth-token').value.trim();
    sessionStorage.setItem('hooktunnel.token', state.token);
    connectEvents();
    loadTunnels();
    reload();
  });
  document.addEventListener('keydown', onKey);
  const id = readHash();
  connectEvents();
  loadTunnels();
  loadAlerts();
  setInterval(loadAlerts, 15000);
  reload();
  if (id) select(id);
}

start();
