// hooktunnel web UI: live messages from the server-sent events of
// GET api/v1/events. Without a token it uses EventSource; EventSource cannot
// send an Authorization header, so with one the stream is read with fetch.
'use strict';

function connectEvents() {
  if (state.events) state.events.close();
  const url = API + 'events';
  let failed = false;
  const opened = () => {
    setLive('live', 'live');
    if (failed) catchUp();
    failed = false;
  };
  const lost = () => {
    failed = true;
    setLive('down', 'reconnecting…');
  };
  if (!state.token) {
    const es = new EventSource(url);
    es.addEventListener('open', opened);
    es.addEventListener('error', lost);
    es.addEventListener('message', (ev) => parseEvent(ev.data));
    es.addEventListener('reset', () => reload());
    state.events = es;
    return;
  }
  // EventSource cannot send a bearer token: read the stream with fetch.
  const ctl = new AbortController();
  state.events = { close: () => ctl.abort() };
  (async function loop() {
    for (let delay = 1000; !ctl.signal.aborted; delay = Math.min(delay * 2, 15000)) {
      try {
        const res = await fetch(url, { headers: { Accept: 'text/event-stream', Authorization: 'Bearer ' + state.token }, signal: ctl.signal, cache: 'no-store' });
        if (res.status === 401) return askToken();
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        opened();
        delay = 1000;
        await readSSE(res.body, parseEvent);
      } catch (err) {
        if (ctl.signal.aborted) return;
      }
      lost();
      await new Promise((r) => setTimeout(r, delay));
    }
  })();
}

// readSSE calls fn with the data of each "message" event of a stream; a
// "reset" event (the server dropped events for this stream) reloads.
async function readSSE(stream, fn) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (event === 'reset') reload();
      else if (event === 'message' && data.length) fn(data.join('\n'));
    }
  }
}

function parseEvent(data) {
  try {
    onEvent(JSON.parse(data));
  } catch {
    // not a message: ignore
  }
}

// catchUp fetches what may have been missed while the stream was down.
async function catchUp() {
  try {
    const page = await api(listQuery(''));
    const list = page.messages || [];
    const top = firstID();
    if (top && list.length && list.every((m) => m.id > top) && page.next) return reload(); // a gap
    list.reverse().forEach(onEvent);
  } catch (err) {
    toast(err.message);
  }
}
