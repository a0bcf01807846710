// The dashboard's entry point: picks the view for the page's path (`/`, `/runs/<id>`, `/sources`,
// `/events`, `/events/<id>`), moves between views without reloading (history API), and shows the
// login box whenever the API answers 401. Each view gets an AbortSignal that stops its polling
// and log streams when the page moves on.
import { forgetToken, setToken, token, Unauthorized } from './api.js';
import { h, replace } from './dom.js';
import { eventsView, eventView } from './events-view.js';
import { runView } from './run-view.js';
import { runsView } from './runs-view.js';
import { sourcesView } from './sources-view.js';

const ROUTES = [
  [/^\/(?:runs\/?)?$/, runsView],
  [/^\/runs\/([^/]+)$/, runView],
  [/^\/sources\/?$/, sourcesView],
  [/^\/events\/?$/, eventsView],
  [/^\/events\/([^/]+)$/, eventView],
];

const main = document.getElementById('main');
let current;

function render() {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  showAuth();
  const path = location.pathname;
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const params = match.slice(1).map(decodeURIComponent);
    const ctx = { signal: controller.signal, fail: (error) => fail(error, controller) };
    Promise.resolve(view(main, params, ctx)).catch(ctx.fail);
    return;
  }
  replace(main, h('p', { class: 'error' }, `No page at ${path}.`));
}

/** A view's read failed: log in again on 401, else say what went wrong (the view may go on polling). */
function fail(error, controller) {
  if (controller.signal.aborted || error?.name === 'AbortError') return;
  if (error instanceof Unauthorized) {
    controller.abort();
    login(error.message);
    return;
  }
  let banner = main.querySelector(':scope > .error.banner');
  if (!banner) {
    banner = h('p', { class: 'error banner' });
    main.prepend(banner);
  }
  replace(banner, String(error?.message ?? error));
}

function login(message) {
  const refused = token() !== null;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'eo_…', required: true, 'aria-label': 'API token' });
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: (event) => {
        event.preventDefault();
        setToken(input.value);
        render();
      },
    },
    h('h1', {}, 'API token'),
    h('p', {}, refused ? 'The server refused the token this tab had. Give another one.' : 'This server needs an API token to read.'),
    h('p', { class: 'muted' }, 'Any valid token can read (make one with ', h('code', {}, 'eventops tokens create --name dashboard --scopes read'), '). It is kept in this tab only (sessionStorage). A server with ', h('code', {}, 'server.anonymousRead: true'), ' needs none.'),
    h('p', { class: 'muted small' }, message),
    h('label', {}, 'Token ', input),
    h('button', { type: 'submit' }, 'Open the dashboard'),
  );
  if (refused) forgetToken();
  showAuth();
  replace(main, form);
  input.focus();
}

function showAuth() {
  const auth = document.getElementById('auth');
  if (token() === null) return replace(auth, h('span', { class: 'muted' }, 'no token'));
  replace(
    auth,
    h('span', { class: 'muted' }, 'token set · '),
    h('button', { type: 'button', class: 'linkish', onclick: () => (forgetToken(), render()) }, 'forget'),
  );
}

document.addEventListener('click', (event) => {
  const a = event.target instanceof Element ? event.target.closest('a[data-nav]') : null;
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  if (url.pathname !== location.pathname) history.pushState(null, '', url.pathname);
  render();
});
window.addEventListener('popstate', render);
render();
