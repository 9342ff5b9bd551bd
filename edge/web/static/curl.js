// hooktunnel web UI: a message as a curl command line ("Copy as curl").
'use strict';

// tunnelOrigins maps a tunnel's name to the origin of its public URL, as
// api/v1/tunnels lists it; app.js fills it.
const tunnelOrigins = new Map();

// Headers curl writes itself from the URL and the body.
const CURL_FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);
const REDACTED = '[redacted]';

function shellQuote(s) {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

// curlTarget is the public URL of a message: its tunnel's origin, the
// path (stored decoded) escaped again, and the query as it came. A tunnel
// the edge no longer lists gets a placeholder to fill in.
function curlTarget(m) {
  const origin = tunnelOrigins.get(m.tunnel) || `TUNNEL-URL-OF-${m.tunnel}`;
  const path = encodeURI(m.path || '/').replace(/\?/g, '%3F').replace(/#/g, '%23');
  return origin + path + (m.query ? '?' + m.query : '');
}

// curlProblem says why a message cannot be sent again as it came, or ''.
function curlProblem(m) {
  if (!m.header) return 'the journal kept no headers of this message';
  if (m.body_size && (!m.body || m.body_truncated)) return 'the journal did not keep this message’s whole body';
  return '';
}

// curlCommand is one shell command line that sends the message again:
// method, URL, the headers as journaled (redacted values left out) and
// the body byte for byte. A body that is not text goes through base64.
function curlCommand(m) {
  const parts = ['curl', '-sS', '-g', '-X', m.method, shellQuote(curlTarget(m))];
  for (const [name, value] of headerRows(m.header)) {
    if (CURL_FRAMING.has(name.toLowerCase()) || value === REDACTED) continue;
    parts.push('-H', shellQuote(`${name}: ${value}`));
  }
  const bytes = decodeBase64(m.body);
  if (!bytes.length) return parts.join(' ');
  const text = bytesToText(bytes);
  if (text !== null && !text.includes('\u0000')) {
    parts.push('--data-binary', shellQuote(text));
    return parts.join(' ');
  }
  parts.push('--data-binary', '@-');
  return `printf %s ${shellQuote(m.body)} | base64 -d | ` + parts.join(' ');
}

// copyText puts text on the clipboard; where the Clipboard API is not
// available (plain HTTP off loopback) it falls back to a selection.
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h('textarea', { readonly: '', class: 'offscreen' });
  area.value = text;
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('the browser refused to copy');
}

// curlButton is the detail pane's "Copy as curl"; toast (app.js) says how it went.
function curlButton(m) {
  const why = curlProblem(m);
  return h('button', {
    type: 'button', id: 'copy-curl', disabled: !!why,
    title: why || 'Copy a curl command that sends this request again (redacted headers left out)',
    onclick: async () => {
      try {
        await copyText(curlCommand(m));
        toast('Copied as curl', 'ok');
      } catch (err) {
        toast(`Copy failed: ${err.message}`);
      }
    },
  }, 'Copy as curl');
}
