// Serves the dashboard: one HTML page for every page path (`/`, `/runs/<id>`, `/sources`,
// `/events`, `/events/<id>`, so a check run's link `<publicUrl>/runs/<id>` opens that run) and its
// ES modules and stylesheet under `/dashboard/`. The files are plain, shipped as they are (no
// build step), read once when the routes are made. The page only reads the `/api/v1` routes with
// the browser's token; its Content-Security-Policy lets it run its own scripts and nothing else.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';

/** Only the page's own files: no inline script or style, no other origin, no framing. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The paths that answer the page (the script reads the path and shows that view). */
export const DASHBOARD_PAGES = ['/', '/runs', '/runs/:id', '/sources', '/events', '/events/:id'] as const;

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/** The static files: next to this file in the source tree, or back in it from `dist/`. */
export function dashboardFolder(): string {
  const here = fileURLToPath(new URL('./static', import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL('../../../webhooks/dashboard/static', import.meta.url));
}

/** Mounted at `/`. `folder`: where index.html, the scripts and the stylesheet are (default dashboardFolder()). */
export function dashboardRoutes(folder: string = dashboardFolder()): Hono {
  const page = readFileSync(join(folder, 'index.html'), 'utf8');
  const assets = new Map<string, { body: string; type: string }>();
  for (const name of readdirSync(folder)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type) assets.set(name, { body: readFileSync(join(folder, name), 'utf8'), type });
  }
  const routes = new Hono();
  for (const path of DASHBOARD_PAGES) {
    routes.get(path, (c) => {
      c.header('content-security-policy', DASHBOARD_CSP);
      c.header('x-content-type-options', 'nosniff');
      c.header('referrer-policy', 'no-referrer');
      c.header('cache-control', 'no-cache');
      return c.html(page);
    });
  }
  // Browsers ask for it whatever the page says.
  routes.get('/favicon.ico', (c) => c.redirect('/dashboard/favicon.svg', 301));
  routes.get('/dashboard/:file', (c) => {
    const asset = assets.get(c.req.param('file'));
    if (!asset) return c.notFound();
    c.header('content-type', asset.type);
    c.header('x-content-type-options', 'nosniff');
    c.header('cache-control', 'no-cache');
    return c.body(asset.body);
  });
  return routes;
}
