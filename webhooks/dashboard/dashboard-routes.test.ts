// The dashboard's routes without a browser: every page path answers the same HTML with its CSP,
// the files answer with their types, nothing else is served from the folder, and the files the
// page loads (its stylesheet, icon, and every module an import names) are all there — a missing
// or misspelt module would leave the page blank in a browser.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, dashboardFolder, dashboardRoutes } from './index.js';

const folder = dashboardFolder();
const app = dashboardRoutes(folder);

describe('dashboard routes', () => {
  it('answer the page for every page path, with a CSP that allows only the page\'s own files', async () => {
    const page = readFileSync(join(folder, 'index.html'), 'utf8');
    for (const path of ['/', '/runs', '/runs/5b0c2f4e-9d1a-4c3b-8e7f-6a5b4c3d2e1f', '/sources', '/events', '/events/0b8f3c1e-6a1d-4f7e-9c2b-5d4e3f2a1b01']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(await res.text()).toBe(page);
    }
    expect(DASHBOARD_CSP).toMatch(/default-src 'none'.*script-src 'self'/);
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|\*/);
  });

  it('serve the scripts and the stylesheet with their types, and nothing else', async () => {
    expect((await app.request('/dashboard/app.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await app.request('/dashboard/style.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const path of ['/dashboard/index.html', '/dashboard/missing.js', '/dashboard/..%2Fdashboard-routes.ts', '/runs/a/b', '/api/v1/runs']) {
      expect((await app.request(path)).status, path).toBe(404);
    }
  });

  it('serve every file the page and its modules load', async () => {
    const wanted = new Set<string>();
    for (const match of readFileSync(join(folder, 'index.html'), 'utf8').matchAll(/(?:href|src)="\/dashboard\/([^"]+)"/g)) wanted.add(match[1] as string);
    for (const name of readdirSync(folder).filter((n) => n.endsWith('.js'))) {
      for (const match of readFileSync(join(folder, name), 'utf8').matchAll(/^import .* from '\.\/([^']+)';$/gm)) wanted.add(match[1] as string);
    }
    expect([...wanted]).toEqual(expect.arrayContaining(['app.js', 'style.css', 'api.js', 'dom.js', 'dag.js', 'run-view.js']));
    for (const name of wanted) expect((await app.request(`/dashboard/${name}`)).status, name).toBe(200);
  });
});
