// The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core, against
// a real `eventops serve` (built CLI, PostgreSQL, embedded queue) whose definitions come from two
// local folders written here: one that works (a four-task DAG whose middle task prints a line,
// then waits for a file this test creates) and one with an invalid file. What a person would
// see is checked: the login box, a new run appearing in the list without a reload, the run's
// DAG and its log streaming while the run still runs, the source's error at file:line:column,
// and an event's hostile field shown as text. Screenshots go to test-artifacts/dashboard/.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts/dashboard');
/** What the tests read of the page's window (the tests are compiled without the DOM's types). */
type PageWindow = { sessionStorage: { setItem(key: string, value: string): void; getItem(key: string): string | null } };
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

const GOOD: Record<string, string> = {
  'actuators/shell.yaml': 'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec: { tags: [local], local: {} }\n',
  'pipelines/diamond.yaml': [
    'apiVersion: eventops.dev/v1',
    'kind: Pipeline',
    'metadata: { name: diamond }',
    'spec:',
    '  inputs: [ { name: gate, type: string, required: true }, { name: title, type: string, default: "" } ]',
    '  actuatorSelector: { tags: [local] }',
    '  tasks:',
    '    - { name: prepare, commands: [ "echo preparing" ] }',
    '    - name: slow',
    '      needs: [prepare]',
    '      env: { GATE: "${{ inputs.gate }}" }',
    '      commands:',
    '        - echo "slow task is waiting for its gate"',
    '        - while [ ! -f "$GATE" ]; do sleep 0.1; done',
    '        - echo "gate opened"',
    '    - { name: quick, needs: [prepare], commands: [ "echo quick" ] }',
    '    - { name: join, needs: [slow, quick], commands: [ "echo joined" ] }',
    '',
  ].join('\n'),
  'triggers/go.yaml': [
    'apiVersion: eventops.dev/v1',
    'kind: Trigger',
    'metadata: { name: go }',
    'spec:',
    '  event: { source: api, type: dash.go }',
    '  pipelines: [ { name: diamond, inputs: { gate: "${{ event.body.gate }}", title: "${{ event.body.title }}" } } ]',
    '',
  ].join('\n'),
  'triggers/prod-only.yaml': [
    'apiVersion: eventops.dev/v1',
    'kind: Trigger',
    'metadata: { name: prod-only }',
    'spec:',
    '  event: { source: api, type: dash.go }',
    // A regex filter, not an exact one: exact filters are index keys, and a trigger set aside by its key gets no verdict.
    "  filters: [ { path: body.env, value: ['^prod'], match: regex } ]",
    '  pipelines: [ { name: diamond, inputs: { gate: "${{ event.body.gate }}" } } ]',
    '',
  ].join('\n'),
};

// `comands` on line 6, column 7: the error the sources page must show.
const BROKEN = 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: broken }\nspec:\n  tasks:\n    - comands: [ "echo" ]\n      name: x\n';

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

describe('the dashboard in Chromium', () => {
  let dir: string;
  let database: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 30_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  const shot = async (name: string) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; test/global-setup.ts does when it runs as root)`);
    dir = await mkdtemp(join(tmpdir(), 'eventops-dashboard-'));
    await writeTree(join(dir, 'good'), GOOD);
    await writeTree(join(dir, 'broken'), { 'pipelines/broken.yaml': BROKEN });
    const config = join(dir, 'eventops.yaml');
    await writeFile(config, [`server: { port: 0, host: 127.0.0.1 }`, `dataDir: ${join(dir, 'data')}`, `sources: [ { name: good, path: ${join(dir, 'good')} }, { name: broken, path: ${join(dir, 'broken')} } ]`, ''].join('\n'));
    database = await createTestDatabase();
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { DATABASE_URL: database.url } });
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions?source=good'), (d) => d.total === 4);
    await mkdir(ARTIFACTS, { recursive: true });
    console.log(`dashboard screenshots: ${ARTIFACTS}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    // A script the page runs that fails, or a CSP refusal of the page's own files, fails the test.
    page.on('response', (res) => {
      if (res.status() >= 400 && res.status() !== 401) problems.push(`${res.status()} ${res.url()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/401 \(Unauthorized\)/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('serves the page for / and /runs/<id> with a CSP that allows only its own scripts', async () => {
    for (const path of ['/', '/runs/anything', '/sources', '/events/x']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe');
      expect(await res.text()).toContain('<script type="module" src="/dashboard/app.js">');
    }
    const script = await fetch(`${server.url}/dashboard/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${server.url}/dashboard/nothing.js`)).status).toBe(404);
    // The API still wants its token.
    expect((await fetch(`${server.url}/api/v1/runs`)).status).toBe(401);
  });

  it('asks for a token, then shows the runs list, which shows a new run without a reload', async () => {
    await page.goto(`${server.url}/`);
    await page.getByLabel('API token').waitFor();
    await shot('01-login');
    await page.getByLabel('API token').fill(server.token);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.getByText('No runs yet').waitFor();
    // Survives only as long as the page is not reloaded.
    await page.evaluate(() => ((globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true));

    const gate = join(dir, 'gate-1');
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'dash.go', body: { gate, title: HOSTILE } }) });
    const event = await until('event matched', () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
    const runId = (event.runs[0] as { id: string }).id;
    const row = page.locator(`tr[data-run="${runId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect(row.textContent()).resolves.toContain('diamond');
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    await shot('02-runs-list');

    // The run page: reached by a click, still the same document.
    await row.getByRole('link', { name: 'diamond' }).click();
    await page.waitForURL(`**/runs/${runId}`);
    const nodes = page.locator('svg.dag g.node');
    await expect.poll(() => nodes.count(), { timeout: 10_000 }).toBe(4);
    expect(await page.locator('svg.dag g.node').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-task')).sort())).toEqual(['join', 'prepare', 'quick', 'slow']);
    const edges = await page.locator('svg.dag path.edge').evaluateAll((ps) => ps.map((p) => `${p.getAttribute('data-from')}->${p.getAttribute('data-to')}`).sort());
    expect(edges).toEqual(['prepare->quick', 'prepare->slow', 'quick->join', 'slow->join']);
    // Laid out by depth: prepare, then slow and quick side by side, then join.
    const x = async (task: string) => (await page.locator(`svg.dag g.node[data-task="${task}"]`).boundingBox())?.x ?? NaN;
    const [px, sx, qx, jx] = [await x('prepare'), await x('slow'), await x('quick'), await x('join')];
    expect(px).toBeLessThan(sx);
    expect(sx).toBe(qx);
    expect(sx).toBeLessThan(jx);

    // The log streams while the run runs: the slow task waits for the gate this test has not made yet.
    await page.locator('pre.log').getByText('slow task is waiting for its gate').waitFor({ timeout: 20_000 });
    expect((await api<{ status: string }>(`/api/v1/runs/${runId}`)).status).toBe('running');
    expect(existsSync(gate)).toBe(false);
    await page.locator('svg.dag g.node[data-task="slow"][data-status="running"]').waitFor();
    await shot('03-run-running');

    await writeFile(gate, '');
    await page.locator('pre.log').getByText('gate opened').waitFor({ timeout: 20_000 });
    await page.locator('svg.dag g.node[data-task="join"][data-status="succeeded"]').waitFor({ timeout: 20_000 });
    await page.locator('.run-head .badge.st-succeeded').waitFor({ timeout: 10_000 });
    await page.getByText('ended: the run succeeded').waitFor({ timeout: 10_000 });
    await shot('04-run-succeeded');
    // The hostile title went into the run's inputs: text, never an element.
    expect(await page.locator('.facts').textContent()).toContain(`title: ${HOSTILE}`);
    expect(await page.locator('main img').count()).toBe(0);

    // Opening the run's address directly (a check run's link) shows the same run.
    await page.goto(`${server.url}/runs/${runId}`);
    await expect.poll(() => page.locator('svg.dag g.node[data-status="succeeded"]').count(), { timeout: 10_000 }).toBe(4);
    await page.locator('pre.log').getByText('joined').waitFor();
  }, 90_000);

  it('shows a failing source with its error at file:line:column', async () => {
    const broken = await until('broken source tried', () => api<{ lastRevision: { errors: { file: string; line: number; column: number; message: string }[] } | null }>('/api/v1/sources/broken'), (s) => (s.lastRevision?.errors.length ?? 0) > 0);
    const error = broken.lastRevision?.errors[0] as { file: string; line: number; column: number; message: string };
    expect(error.file).toBe('pipelines/broken.yaml');
    expect(error.line).toBe(6);
    await page.getByRole('link', { name: 'Sources' }).click();
    const card = page.locator('section.card[data-source="broken"]');
    await card.locator('.findings li.error').first().waitFor({ timeout: 10_000 });
    const text = await card.textContent();
    expect(text).toContain(`pipelines/broken.yaml:${error.line}:${error.column}: error: ${error.message}`);
    expect(text).toContain('ValidationFailed');
    expect(await page.locator('section.card[data-source="good"] .badge').first().textContent()).toBe('ready');
    await shot('05-sources');
  });

  it('explains an event: which trigger matched, which filter did not hold, and shows a hostile field as text', async () => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'dash.go', body: { gate: join(dir, 'gate-2'), env: 'dev', title: HOSTILE } }) });
    await writeFile(join(dir, 'gate-2'), '');
    await page.getByRole('link', { name: 'Events' }).click();
    const row = page.locator(`tr[data-event="${eventId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('link', { name: eventId.slice(0, 8) }).click();
    await page.waitForURL(`**/events/${eventId}`);
    const matched = page.locator('tr[data-trigger="good/go"]');
    const filtered = page.locator('tr[data-trigger="good/prod-only"]');
    await matched.waitFor({ timeout: 10_000 });
    expect(await matched.textContent()).toContain('matched');
    expect(await filtered.textContent()).toContain('filtered');
    expect(await filtered.locator('.filters .fails').textContent()).toMatch(/body\.env.*"dev"/);
    const data = await page.locator('pre.data').textContent();
    expect(data).toContain(`"title": ${JSON.stringify(HOSTILE)}`);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await shot('06-event');
    expect(problems).toEqual([]);
  });

  it('asks again for a token when the one it has is refused, and forgets it', async () => {
    await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.setItem('eventops.token', 'eo_not-a-token-this-server-knows'));
    await page.goto(`${server.url}/sources`);
    await page.getByText('The server refused the token this tab had').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.getItem('eventops.token'))).toBeNull();
    await page.getByLabel('API token').fill(server.token);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.locator('section.card[data-source="good"]').waitFor();
    await page.getByRole('button', { name: 'forget' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.getItem('eventops.token'))).toBeNull();
  });
});

describe('the dashboard of a server with anonymousRead', () => {
  let dir: string;
  let database: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-dashboard-anon-'));
    await writeTree(join(dir, 'good'), GOOD);
    const config = join(dir, 'eventops.yaml');
    await writeFile(config, [`server: { port: 0, host: 127.0.0.1, anonymousRead: true }`, `dataDir: ${join(dir, 'data')}`, `sources: [ { name: good, path: ${join(dir, 'good')} } ]`, ''].join('\n'));
    database = await createTestDatabase();
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { DATABASE_URL: database.url } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('opens without a token', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.url}/sources`);
    await page.locator('section.card[data-source="good"]').waitFor();
    expect(await page.locator('#auth').textContent()).toBe('no token');
    expect(await page.getByLabel('API token').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '07-anonymous-sources.png'), fullPage: true });
  });
});
