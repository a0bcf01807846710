// Builds DOM nodes without ever parsing HTML: every value becomes a text node or an attribute
// value, so data from events (a PR title, a branch name) can never turn into markup. The views
// use h() for HTML and s() for SVG; there is no innerHTML anywhere in the dashboard.

const SVG = 'http://www.w3.org/2000/svg';

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (typeof child === 'object' && 'nodeType' in child) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element: h('a', { href: '/x', class: 'y' }, 'text', otherNode). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** Replaces the children of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** `1.2 s`, `3 m 04 s`; `-` for none. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '-';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const sec = String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0');
  return m < 60 ? `${m} m ${sec} s` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} m`;
}

/** How long something took, or has been going on for when it has not finished. */
export function elapsed(startedAt, finishedAt, durationMs) {
  if (durationMs !== null && durationMs !== undefined) return duration(durationMs);
  if (!startedAt) return '-';
  return duration((finishedAt ? Date.parse(finishedAt) : Date.now()) - Date.parse(startedAt));
}

/** `5 s ago`, `3 m ago`, with the full time as the element's title. */
export function ago(iso) {
  if (!iso) return h('span', {}, '-');
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  const text = seconds < 60 ? `${seconds} s ago` : seconds < 3600 ? `${Math.floor(seconds / 60)} m ago` : seconds < 86_400 ? `${Math.floor(seconds / 3600)} h ago` : iso.slice(0, 10);
  return h('time', { datetime: iso, title: iso }, text);
}

/** A coloured status word. */
export function badge(status) {
  return h('span', { class: `badge st-${String(status).replace(/[^a-z_]/gi, '')}` }, String(status));
}

/** An in-page link (the router takes clicks on `data-nav` links). */
export function link(path, ...children) {
  return h('a', { href: path, 'data-nav': true }, ...children);
}
