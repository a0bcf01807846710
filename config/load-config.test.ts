// eventops.yaml as a user writes it: defaults, environment overrides, and errors that name the
// key and where it was set.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aliasBomb } from '../test/helpers/alias-bomb.js';
import { ConfigError, createSecretStore, loadConfig } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'eventops-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const failure = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('gives the embedded defaults with no file', () => {
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config).toMatchObject({ server: { port: 8080, host: '0.0.0.0', anonymousRead: false }, dataDir: join(dir, '.eventops'), logLevel: 'info', sources: [] });
    expect(config.databaseUrl).toBeUndefined();
  });

  it('reads the design example and resolves paths against the file', () => {
    const file = write(
      'design.yaml',
      `server: { port: 9090 }
database: { url: postgres://eventops@db:5432/eventops }
sources:
  - { name: ops, url: https://git.example.invalid/acme/ops-defs.git, ref: main, dir: eventops/,
      interval: 1m, auth: { token: { secret: GITHUB_TOKEN } } }
  - { name: local, path: ./definitions-template, ignore: ["events/**"] }
receivers: [ { name: alertmanager, auth: { bearer: { secret: AM_TOKEN } } } ]
`,
    );
    const config = loadConfig({ file, cwd: '/', env: {} });
    expect(config.server.port).toBe(9090);
    expect(config.databaseUrl).toBe('postgres://eventops@db:5432/eventops');
    expect(config.sources).toEqual([
      { name: 'ops', type: 'git', url: 'https://git.example.invalid/acme/ops-defs.git', ref: 'main', dir: 'eventops', intervalMs: 60_000, timeoutMs: 60_000, ignore: [], tokenSecret: 'GITHUB_TOKEN', secrets: [] },
      { name: 'local', type: 'local', path: join(dir, 'definitions-template'), dir: '', intervalMs: 600_000, timeoutMs: 60_000, ignore: ['events/**'], secrets: [] },
    ]);
  });

  it('lets the environment override any key', () => {
    const file = write('env.yaml', 'server: { port: 9090 }\nsources: [ { name: a, path: . } ]\n');
    const config = loadConfig({
      file,
      env: { PORT: '7070', DATABASE_URL: 'postgres://x@127.0.0.1/db', EVENTOPS__SERVER__ANONYMOUS_READ: 'true', EVENTOPS__SOURCES__0__INTERVAL: '30s', EVENTOPS_DATA_DIR: '/var/lib/eventops' },
    });
    expect(config.server).toEqual({ port: 7070, host: '0.0.0.0', anonymousRead: true, shutdownDelayMs: 2_000 });
    expect(config.databaseUrl).toBe('postgres://x@127.0.0.1/db');
    expect(config.sources[0]?.intervalMs).toBe(30_000);
    expect(config.dataDir).toBe('/var/lib/eventops');
    expect(loadConfig({ cwd: dir, env: { EVENTOPS_CONFIG: file } }).server.port).toBe(9090);
  });

  it('nats: publish only without stream and subjects (runs under eventops.runs by default), both or neither', () => {
    const publish = write('nats-out.yaml', 'nats: { url: "nats://127.0.0.1:4222" }\n');
    expect(loadConfig({ file: publish, env: {} }).nats).toEqual({ url: 'nats://127.0.0.1:4222', subjects: [], durable: 'eventops', runsPrefix: 'eventops.runs' });
    const both = write('nats-both.yaml', 'nats: { stream: OPS, subjects: [ "ops.>" ], runsPrefix: acme.runs }\n');
    expect(loadConfig({ file: both, env: {} }).nats).toMatchObject({ stream: 'OPS', subjects: ['ops.>'], runsPrefix: 'acme.runs' });
    const half = write('nats-half.yaml', 'nats:\n  stream: OPS\n');
    expect(failure(() => loadConfig({ file: half, env: {} }))).toContain('nats: events come in from NATS with both `stream` and `subjects`');
    const wild = write('nats-wild.yaml', 'nats: { runsPrefix: "eventops.>" }\n');
    expect(failure(() => loadConfig({ file: wild, env: {} }))).toContain('nats.runsPrefix');
  });

  it('names the key, the file, line and column of a bad value', () => {
    const file = write('bad.yaml', 'server:\n  port: 8080\nsources:\n  - name: ops\n    url: https://h.invalid/r.git\n    interval: 5 minutes\n');
    expect(failure(() => loadConfig({ file, env: {} }))).toBe(`${file}:6:15: sources[0].interval: must be a duration such as 30s, 5m or 1h (got "5 minutes")`);
    const typo = write('typo.yaml', 'sources:\n  - name: ops\n    path: .\n    intervall: 1m\n');
    expect(failure(() => loadConfig({ file: typo, env: {} }))).toMatch(new RegExp(`^${typo}:4:5: sources\\[0\\]\\.intervall: unknown key; allowed here: name, url, path`));
    const both = write('both.yaml', 'sources:\n  - { name: ops, path: ., url: "https://h.invalid/r.git" }\n');
    expect(failure(() => loadConfig({ file: both, env: {} }))).toContain('sources[0].path: give exactly one of `url` (a git repository) and `path` (a local folder)');
    const twice = write('twice.yaml', 'sources:\n  - { name: ops, path: . }\n  - { name: ops, path: ./x }\n');
    expect(failure(() => loadConfig({ file: twice, env: {} }))).toContain(`${twice}:3:13: sources[1].name: "ops" is used by another source`);
  });

  it('names the environment variable of a bad override, and reports YAML syntax errors', () => {
    expect(failure(() => loadConfig({ cwd: dir, env: { PORT: 'eighty' } }))).toBe('environment PORT: server.port: must be integer (got "eighty")');
    const broken = write('broken.yaml', 'server: { port: 8080\n');
    expect(failure(() => loadConfig({ file: broken, env: {} }))).toMatch(new RegExp(`^${broken}:\\d+:\\d+: `));
    expect(failure(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} }))).toContain('missing.yaml: no such configuration file');
  });

  it('refuses an alias bomb in the file with an error naming its line (limits.yaml.maxAliases)', () => {
    const bomb = write('bomb.yaml', aliasBomb({ head: 'server: { port: 8080 }\n', under: 'x-bomb' }));
    expect(failure(() => loadConfig({ file: bomb, env: {} }))).toMatch(new RegExp(`^${bomb}:6:10: too many YAML aliases: .*limits\\.yaml\\.maxAliases`));
    // The file's own limit applies (99 aliases counted: under the default 100, over 10).
    const raised = write('raised.yaml', aliasBomb({ head: 'limits: { yaml: { maxAliases: 10 } }\n', under: 'x-bomb', levels: 3 }));
    expect(failure(() => loadConfig({ file: raised, env: {} }))).toMatch(new RegExp(`^${raised}:5:10: too many YAML aliases: .* over the limit of 10 `));
    // A few aliases are fine.
    const anchors = write('anchors.yaml', 'server: { port: &port 8081, host: *port }\n');
    expect(failure(() => loadConfig({ file: anchors, env: {} }))).toContain('server.host');
  });
});

describe('secret store', () => {
  it('reads EVENTOPS_SECRET_<NAME> first, then a file in the secrets folder', () => {
    write('FROM_FILE', 'file-value\n');
    const store = createSecretStore({ env: { EVENTOPS_SECRET_GITHUB_TOKEN: 'env-value' }, dir });
    expect(store.get('GITHUB_TOKEN')).toBe('env-value');
    expect(store.get('FROM_FILE')).toBe('file-value');
    expect(store.get('NOPE')).toBeUndefined();
  });
});
