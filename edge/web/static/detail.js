// hooktunnel web UI: the detail pane of one message.
'use strict';

// renderDetail builds the pane for a full Message (docs/api.md). actions:
// replay(id, button), release(id, button) for a held message, open(id) to
// select another message, close().
function renderDetail(m, actions) {
  const blocked = replayBlocked(m);
  const replayBtn = h('button', {
    type: 'button', class: 'primary', id: 'replay',
    title: blocked ? `Cannot be sent again: ${blocked}` : 'Send this request to the app again, as a new message',
    onclick: () => actions.replay(m.id, replayBtn),
  }, 'Replay');
  replayBtn.disabled = !!blocked;
  const editForm = blocked ? null : replayEditor(m, actions);
  const editBtn = h('button', {
    type: 'button', id: 'edit-replay',
    title: blocked ? `Cannot be sent again: ${blocked}` : 'Change the headers or the body, then send the request again',
    onclick: () => { editForm.hidden = !editForm.hidden; if (!editForm.hidden) editForm.querySelector('textarea').focus(); },
  }, 'Edit and replay');
  editBtn.disabled = !!blocked;
  // A held message (a route's filter did not take it, on_mismatch:
  // queue_hold) waits for an operator: Release hands it to the queue.
  const releaseBtn = m.queue === 'held' ? h('button', {
    type: 'button', class: 'primary', id: 'release',
    title: 'Deliver this held message: it becomes pending in the queue, which sends it to the app',
    onclick: () => actions.release(m.id, releaseBtn),
  }, 'Release') : null;
  const head = h('div', { class: 'd-head' },
    h('div', { class: 'd-title' },
      h('span', { class: `method m-${m.method}` }, m.method),
      h('h2', { class: 'd-target', id: 'd-target' }, requestTarget(m))),
    h('div', { class: 'd-actions' },
      statusPill(m.status), decisionBadge(m), curlButton(m), releaseBtn, replayBtn, editBtn,
      h('button', { type: 'button', class: 'icon', title: 'Close (Esc)', 'aria-label': 'Close details', onclick: actions.close }, '×')));

  return h('article', { class: 'd', 'aria-labelledby': 'd-target' },
    head,
    editForm,
    section('Overview', overview(m, actions)),
    m.query ? section('Query', kvTable(queryRows(m.query), 'Parameter', 'Value')) : null,
    section(`Request headers`, headerTable(m.header)),
    section('Request body', requestBody(m)),
    section('Response', response(m)),
    m.attempts && m.attempts.length ? section('Attempts', attempts(m)) : null);
}

function section(title, ...content) {
  return h('section', { class: 'd-sec' }, h('h3', null, title), ...content);
}

function overview(m, actions) {
  const rows = [
    ['ID', h('code', { id: 'd-id' }, m.id)],
    ['Received', [fmtFullTime(m.received_at), ' ', h('span', { class: 'muted' }, `(${fmtAgo(m.received_at)})`)]],
    ['Tunnel', m.tunnel],
    ['Route', m.route ? h('code', null, m.route) : h('span', { class: 'muted' }, 'none matched')],
    ['Source IP', m.source_ip],
    ['Decision', decisionBadge(m)],
  ];
  if (m.reason) rows.push(['Reason', h('code', null, m.reason)]);
  if (m.detail) rows.push(['Detail', m.detail]);
  if (m.provider) rows.push(['Provider', m.provider]);
  if (m.event) rows.push(['Event', h('code', { id: 'd-event' }, m.event)]);
  if (m.secret) rows.push(['Secret', h('code', null, m.secret)]);
  if (m.delivery_id) rows.push(['Delivery ID', h('code', null, m.delivery_id)]);
  if (m.client_cert) rows.push(['Client cert', m.client_cert]);
  if (m.queue) rows.push(['Queue', h('span', { class: `queue q-${m.queue}` }, m.queue)]);
  // Several edges share the journal: where the webhook arrived, and which
  // edge's agent session carried its last attempt to the app.
  if (m.edge) rows.push(['Arrived at', h('code', { id: 'd-edge' }, m.edge)]);
  const last = m.attempts && m.attempts.length ? m.attempts[m.attempts.length - 1] : null;
  if (last && last.edge) rows.push(['Delivered by', h('code', { id: 'd-delivered-by' }, last.edge)]);
  if (m.replay_of) {
    rows.push(['Replay of', h('a', {
      href: '#id=' + encodeURIComponent(m.replay_of), class: 'replay-of',
      onclick: (ev) => { ev.preventDefault(); actions.open(m.replay_of); },
    }, m.replay_of)]);
  }
  rows.push(['Duration', fmtDuration(m.duration_ns)]);
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function queryRows(query) {
  const rows = [];
  for (const part of query.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    const v = i < 0 ? '' : part.slice(i + 1);
    rows.push([safeDecode(k), safeDecode(v)]);
  }
  return rows;
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function headerTable(header) {
  const rows = headerRows(header);
  if (!rows.length) return h('p', { class: 'muted' }, 'none');
  return kvTable(rows, 'Name', 'Value');
}

// replayEditor is the edit-and-replay form: the headers as "Name: value"
// lines and the body as text (a body that is not text is sent as stored).
function replayEditor(m, actions) {
  const bytes = decodeBase64(m.body);
  let text = null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  const lines = [];
  for (const name of Object.keys(m.header || {}).sort()) {
    for (const v of m.header[name]) lines.push(`${name}: ${v}`);
  }
  const headers = h('textarea', { id: 'edit-headers', rows: Math.min(12, lines.length + 1), spellcheck: 'false', 'aria-label': 'Headers, one per line' });
  headers.value = lines.join('\n');
  const body = h('textarea', { id: 'edit-body', rows: 10, spellcheck: 'false', 'aria-label': 'Body' });
  body.value = text === null ? '' : text;
  body.disabled = text === null;
  const error = h('p', { class: 'error', role: 'alert' });
  const send = h('button', { type: 'submit', class: 'primary', id: 'edit-send' }, 'Send edited');
  const form = h('form', { class: 'edit-replay', id: 'edit-form' },
    h('label', { for: 'edit-headers' }, 'Headers (Name: value; [redacted] values are not sent)'), headers,
    h('label', { for: 'edit-body' }, text === null ? 'Body (not text: sent as stored)' : 'Body'), body,
    error, send);
  form.hidden = true;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const header = {};
    for (const [i, line] of headers.value.split('\n').entries()) {
      if (!line.trim()) continue;
      const at = line.indexOf(':');
      if (at <= 0) {
        error.textContent = `Line ${i + 1} is not a header (Name: value).`;
        return;
      }
      const name = line.slice(0, at).trim();
      (header[name] = header[name] || []).push(line.slice(at + 1).trim());
    }
    error.textContent = '';
    const edit = { header };
    if (text !== null) edit.body = encodeBase64(new TextEncoder().encode(body.value));
    actions.replay(m.id, send, edit);
  });
  return form;
}

function encodeBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

// replayBlocked says why the journal cannot send m again (it lacks the
// whole body), or '' when it can; the edge's replay answers the same.
function replayBlocked(m) {
  if (m.body_dropped === 'journal_backlog') return 'the edge received bodies faster than it wrote them (journal.max_pending was full)';
  if (m.body_truncated) return 'the body was longer than the journal keeps';
  if (m.body || !m.body_size) return '';
  if (m.decision === 'refused' && /^body_/.test(m.reason || '')) return `the body did not arrive whole (${m.reason})`;
  if (m.decision === 'refused') return `the request was refused (${m.reason}) before the edge read its body`;
  return 'its route keeps no bodies (journal: metadata or headers)';
}

function requestBody(m) {
  if (!m.body_size) return h('p', { class: 'muted' }, 'empty');
  if (!m.body) return h('p', { class: 'muted' }, `${fmtBytes(m.body_size)}, not kept: ${replayBlocked(m)}`);
  return bodyView(m.body, headerValue(m.header, 'Content-Type'), m.body_size, m.body_truncated);
}

function response(m) {
  if (!m.status) {
    return h('p', { class: 'muted' }, m.queue === 'pending' ? 'not delivered yet' : 'no answer');
  }
  const ct = headerValue(m.response_header, 'Content-Type');
  const who = m.decision === 'forwarded' || m.queue ? 'the app' : 'the edge';
  return [
    h('p', { class: 'resp-line' }, statusPill(m.status), ' ', h('span', { class: 'muted' }, `from ${who} in ${fmtDuration(m.duration_ns)}`)),
    m.response_header && Object.keys(m.response_header).length ? headerTable(m.response_header) : null,
    m.response_body ? bodyView(m.response_body, ct, null, false) : null,
  ];
}

function attempts(m) {
  return h('ol', { class: 'timeline' }, m.attempts.map((a) => {
    const ok = a.status >= 200 && a.status < 300;
    return h('li', { class: ok ? 'ok' : 'bad' },
      h('span', { class: 'n' }, `#${a.n}`),
      h('time', { datetime: a.at, title: fmtFullTime(a.at) }, fmtTime(a.at)),
      statusPill(a.status),
      h('span', { class: 'muted' }, fmtDuration(a.duration_ns)),
      a.edge ? h('span', { class: 'muted edge' }, `via ${a.edge}`) : null,
      a.error ? h('span', { class: 'err' }, a.error) : null);
  }));
}
