// hooktunnel web UI: building DOM safely and formatting values.
//
// Everything a sender controls (paths, headers, bodies) reaches the page as
// text nodes or attribute values, never parsed as HTML.
'use strict';

// h builds an element. attrs: class, dataset, on<event> handlers, other
// attributes as strings (true for a bare attribute). Children are nodes or
// strings (as text); null, undefined and false are skipped.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  appendAll(el, children);
  return el;
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function clear(el) {
  el.replaceChildren();
  return el;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// fmtTime is the list's time: the clock with milliseconds today, the date
// and the clock otherwise.
function fmtTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return `${clock}.${pad(d.getMilliseconds(), 3)}`;
  return `${MONTHS[d.getMonth()]} ${pad(d.getDate())} ${clock}`;
}

function fmtFullTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso || '');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function fmtAgo(iso) {
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (!isFinite(s)) return '';
  if (s < 5) return 'just now';
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// fmtDuration formats nanoseconds.
function fmtDuration(ns) {
  if (!ns) return '—';
  if (ns < 1e6) return `${(ns / 1e3).toFixed(0)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 1 : 0)} ms`;
  if (ns < 60e9) return `${(ns / 1e9).toFixed(2)} s`;
  return `${Math.floor(ns / 60e9)} min ${Math.round((ns % 60e9) / 1e9)} s`;
}

function fmtBytes(n) {
  if (n == null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

// statusPill shows an HTTP status colored by its class; 0 is "no answer".
function statusPill(status) {
  if (!status) return h('span', { class: 'pill s0', title: 'no answer yet' }, '—');
  return h('span', { class: `pill s${Math.floor(status / 100)}` }, String(status));
}

// decisionBadge shows what the edge did; a refusal (or a failed filter) shows its reason code,
// a queued message its queue state.
function decisionBadge(m) {
  const d = m.decision || 'unknown';
  const badge = h('span', { class: `badge d-${d}` }, d);
  if (d === 'refused' && m.reason) return [badge, ' ', h('code', { class: 'reason', title: m.detail || '' }, m.reason)];
  // A filtered message says which filter outcome: filtered or filter_failed.
  if (d === 'filtered' && m.reason && m.reason !== 'filtered') return [badge, ' ', h('code', { class: 'reason', title: m.detail || '' }, m.reason)];
  if (m.queue) return [badge, ' ', h('span', { class: `queue q-${m.queue}` }, m.queue)];
  return badge;
}

function requestTarget(m) {
  return m.path + (m.query ? '?' + m.query : '');
}

// headerValue returns a header's values, case-insensitively by name.
function headerValue(header, name) {
  if (!header) return '';
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(header)) {
    if (k.toLowerCase() === want) return (v || []).join(', ');
  }
  return '';
}

// decodeBase64 turns the API's base64 bodies into bytes.
function decodeBase64(b64) {
  if (!b64) return new Uint8Array(0);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

// bytesToText is the UTF-8 text of bytes, or null when they are binary.
function bytesToText(bytes) {
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    return null;
  }
  // Control characters other than whitespace mean binary.
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text.slice(0, 4096))) return null;
  return text;
}

// Bodies above these sizes are shown plainly: highlighting costs time.
const HIGHLIGHT_LIMIT = 256 * 1024;
const SHOW_LIMIT = 1 << 20;
const HEX_LIMIT = 4096;

// bodyView renders a body: pretty JSON, form fields, text, or a hex dump.
function bodyView(b64, contentType, size, truncated) {
  const bytes = decodeBase64(b64);
  const note = [];
  if (truncated) note.push(`kept ${fmtBytes(bytes.length)} of ${fmtBytes(size)}`);
  const text = bytesToText(bytes);
  let view;
  if (text == null) {
    view = hexDump(bytes);
    note.push(`binary${bytes.length > HEX_LIMIT ? `, first ${fmtBytes(HEX_LIMIT)} shown` : ''}`);
  } else {
    const ct = (contentType || '').toLowerCase();
    const trimmed = text.trimStart();
    let pretty = null;
    if (ct.includes('json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        pretty = null;
      }
    }
    if (pretty != null) {
      view = jsonView(pretty);
      note.push('JSON');
    } else if (ct.includes('application/x-www-form-urlencoded')) {
      view = formView(text);
      note.push('form');
    } else {
      view = h('pre', { class: 'code' }, clip(text, note));
    }
  }
  return h('div', { class: 'body' },
    h('div', { class: 'body-meta muted' }, [fmtBytes(size != null ? size : bytes.length), ...note].join(' · ')),
    view);
}

function clip(text, note) {
  if (text.length <= SHOW_LIMIT) return text;
  note.push(`first ${fmtBytes(SHOW_LIMIT)} shown`);
  return text.slice(0, SHOW_LIMIT);
}

// jsonView highlights pretty-printed JSON with spans holding text.
function jsonView(pretty) {
  const pre = h('pre', { class: 'code json' });
  if (pretty.length > HIGHLIGHT_LIMIT) {
    pre.textContent = pretty.length > SHOW_LIMIT ? pretty.slice(0, SHOW_LIMIT) + '\n…' : pretty;
    return pre;
  }
  const frag = document.createDocumentFragment();
  const re = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (let m; (m = re.exec(pretty)) !== null;) {
    if (m.index > last) frag.append(pretty.slice(last, m.index));
    if (m[1] !== undefined) {
      frag.append(h('span', { class: m[2] ? 'j-key' : 'j-str' }, m[1]));
      if (m[2]) frag.append(m[2]);
    } else if (m[3] !== undefined) {
      frag.append(h('span', { class: 'j-lit' }, m[3]));
    } else {
      frag.append(h('span', { class: 'j-num' }, m[4]));
    }
    last = re.lastIndex;
  }
  frag.append(pretty.slice(last));
  pre.append(frag);
  return pre;
}

function formView(text) {
  const rows = [];
  for (const [k, v] of new URLSearchParams(text)) rows.push([k, v]);
  return kvTable(rows, 'Field', 'Value');
}

// kvTable is a two-column table; "[redacted]" values are marked as such.
function kvTable(rows, left, right) {
  return h('table', { class: 'kv' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, left), h('th', { scope: 'col' }, right))),
    h('tbody', null, rows.map(([k, v]) => h('tr', null,
      h('th', { scope: 'row' }, k),
      h('td', null, v === '[redacted]' ? h('span', { class: 'redacted' }, '[redacted]') : v)))));
}

// headerRows flattens an http.Header into sorted [name, value] rows.
function headerRows(header) {
  const rows = [];
  for (const name of Object.keys(header || {}).sort()) {
    for (const v of header[name] || []) rows.push([name, v]);
  }
  return rows;
}

function hexDump(bytes) {
  const lines = [];
  const n = Math.min(bytes.length, HEX_LIMIT);
  for (let off = 0; off < n; off += 16) {
    let hex = '';
    let ascii = '';
    for (let i = off; i < off + 16; i++) {
      if (i < n) {
        hex += bytes[i].toString(16).padStart(2, '0') + (i === off + 7 ? '  ' : ' ');
        ascii += bytes[i] >= 0x20 && bytes[i] < 0x7f ? String.fromCharCode(bytes[i]) : '.';
      } else {
        hex += i === off + 7 ? '    ' : '   ';
      }
    }
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`);
  }
  return h('pre', { class: 'code hex' }, lines.join('\n'));
}
