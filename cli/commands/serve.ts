// `eventops serve`: loads eventops.yaml, starts the roles asked for (all by default: the HTTP
// API and webhooks, the queue workers that match events and run pipelines, the reconciler),
// prints where it listens and how to send a first event, and runs until SIGINT or SIGTERM,
// then shuts down in order (not ready, HTTP, workers, reconciles in progress, database). With no
// configuration file and no sources it serves the starter definitions (definitions-template/).
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../../config/index.js';
import { UsageError, type Io } from '../output.js';
import { ROLES, type Role } from '../start-events.js';
import { startServer } from '../start-server.js';

export interface ServeOptions {
  config?: string;
  port?: string;
  role?: string;
}

export async function serveCommand(options: ServeOptions, io: Io): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const load = (extra: Record<string, string> = {}) => {
    try {
      return loadConfig({ ...(options.config ? { file: options.config } : {}), cwd, env: { ...env, ...extra } });
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(`invalid configuration:\n${error.message}`);
      throw error;
    }
  };
  let config = load();
  // No eventops.yaml and no sources: the starter definitions of the working folder, else this package's.
  const starter = config.sources.length === 0 && !config.file ? starterDefinitions(cwd) : undefined;
  if (starter) config = load({ EVENTOPS__SOURCES: JSON.stringify([{ name: 'template', path: starter }]) });
  if (options.port !== undefined) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (got ${JSON.stringify(options.port)})`);
    config = { ...config, server: { ...config.server, port } };
  }
  const roles = parseRoles(options.role);
  if (config.sources.length === 0) {
    io.err('eventops: no sources configured; add `sources:` to eventops.yaml (see docs/configuration.md)\n');
  }
  const server = await startServer(config, { env, roles });
  io.out(banner(config, server.url, roles, cwd));
  // SIGTERM (a platform stopping the process) keeps answering for `server.shutdownDelay` with
  // /readyz at 503, so load balancers stop sending first; SIGINT (Ctrl-C) stops at once.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (name: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(name);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  server.logger.info({ signal }, 'shutting down');
  await server.close(signal === 'SIGTERM' ? { delayMs: config.server.shutdownDelayMs } : {});
  server.logger.info('stopped');
  return 0;
}

function parseRoles(text: string | undefined): Role[] {
  if (text === undefined) return [...ROLES];
  const roles = text.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) throw new UsageError(`--role takes ${ROLES.join(', ')} (comma-separated); got ${JSON.stringify(text)}`);
  return roles as Role[];
}

/** The folder of starter definitions: the working folder's `definitions-template/`, else the one shipped with eventops. */
function starterDefinitions(cwd: string): string | undefined {
  // From cli/commands/ in the sources (tsx) or dist/cli/commands/ once built.
  const here = fileURLToPath(new URL('.', import.meta.url));
  return [join(cwd, 'definitions-template'), resolve(here, '../../definitions-template'), resolve(here, '../../../definitions-template')].find((p) => existsSync(p));
}

function banner(config: Config, url: string, roles: readonly Role[], cwd: string): string {
  const shown = url.replace('//0.0.0.0:', '//127.0.0.1:');
  const storage = `${config.databaseUrl ? 'PostgreSQL' : `embedded database in ${relative(cwd, config.dataDir) || '.'}`}, ${config.redisUrl ? 'BullMQ on Redis' : 'embedded queue'}`;
  const lines = [`eventops is serving on ${shown} (${roles.join(', ')}; ${storage})`];
  if (config.sources.length > 0) lines.push(`sources: ${config.sources.map((s) => `${s.name} (${s.type === 'git' ? s.url : relative(cwd, s.path as string) || '.'})`).join(', ')}`);
  if (roles.includes('api')) {
    const hello = config.sources.find((s) => s.type === 'local' && existsSync(join(s.path as string, 'events', 'hello.yaml')));
    const server = shown === 'http://127.0.0.1:8080' ? '' : ` --server ${shown}`;
    if (hello) lines.push(`send a first event:  npx eventops event send${server} -f ${relative(cwd, join(hello.path as string, 'events', 'hello.yaml'))}`);
    lines.push(`see its run:         npx eventops runs list${server}   then   npx eventops runs logs${server} <run id> -f`);
    if (config.server.adminTokenSecret) lines.push(`API token:           the secret ${config.server.adminTokenSecret} (server.adminToken); give it to the CLI as EVENTOPS_TOKEN`);
    else lines.push(`API token:           ${relative(cwd, join(config.dataDir, 'admin-token'))} (the CLI reads it from there)`);
  }
  return `${lines.join('\n')}\n`;
}
