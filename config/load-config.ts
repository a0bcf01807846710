// Reads eventops.yaml once at start-up: the file (`--config`, EVENTOPS_CONFIG, or
// `eventops.yaml` in the working folder when it exists), then environment overrides, then the
// schema check, then defaults. A bad configuration is a ConfigError naming the key and where it
// was set (file:line:column or the environment variable).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, LineCounter, parseDocument, parse as parseYaml, type Document } from 'yaml';
import { checkAliases, parseDuration } from '../schemas/index.js';
import { ConfigSchema, type RawConfig, type RawSourceConfig } from './config-schema.js';
import { DEFAULT_LIMITS, parseByteSize, type Limits } from './limits.js';

export interface SourceConfig {
  name: string;
  type: 'git' | 'local';
  /** git: the repository URL as configured (may hold credentials: never log or store it as is). */
  url?: string;
  /** local: the absolute folder. */
  path?: string;
  ref?: string;
  /** Sub-folder with the definitions, without leading or trailing `/`; '' for the root. */
  dir: string;
  intervalMs: number;
  timeoutMs: number;
  ignore: string[];
  /** Name of the secret holding the HTTPS token. */
  tokenSecret?: string;
  secrets: string[];
}

export interface Config {
  /** The file read, if any. */
  file?: string;
  server: { port: number; host: string; anonymousRead: boolean; publicUrl?: string; shutdownDelayMs: number; adminTokenSecret?: string };
  databaseUrl?: string;
  redisUrl?: string;
  /** Key prefix of the BullMQ queues. */
  queuePrefix: string;
  /** Absolute folder for the embedded database, caches and the admin token. */
  dataDir: string;
  logLevel: string;
  secretsDir?: string;
  sources: SourceConfig[];
  receivers: ReceiverConfig[];
  /** `stream` and `subjects` set: events come in from NATS; always: runs' CloudEvents go out under `runsPrefix`. */
  nats?: { url: string; stream?: string; subjects: string[]; durable: string; runsPrefix: string };
  /** Names of the secrets GitHub webhooks may be signed with (rotation: any of them). */
  githubWebhookSecrets: string[];
  /** GitHub's API, when eventops writes to it: an App (its private key's secret name) or a token's secret name. */
  github?: { auth: { appId: number; privateKeySecret: string } | { tokenSecret: string }; apiUrl?: string; checks: boolean };
  /** The sweeper: how often it looks, and how old an unmatched event must be to be re-enqueued. */
  queue: { sweepIntervalMs: number; sweepAfterMs: number };
  /** The run engine's workers: tasks at once per process, and the lease of a running task. */
  runs: { concurrency: number; leaseMs: number; shutdownTimeoutMs: number };
  /** Bounds on input and resources (config/limits.ts). */
  limits: Limits;
}

export interface ReceiverConfig {
  name: string;
  auth: { bearer: string } | { hmac: { secret: string; header: string; prefix: string } };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** An explicit file (`--config`): it must exist. */
  file?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** Environment variables with their own names, and the key each overrides. */
const NAMED_ENV: Record<string, string[]> = {
  PORT: ['server', 'port'],
  HOST: ['server', 'host'],
  DATABASE_URL: ['database', 'url'],
  REDIS_URL: ['redis', 'url'],
  NATS_URL: ['nats', 'url'],
  PUBLIC_URL: ['server', 'publicUrl'],
  GITHUB_API_URL: ['github', 'apiUrl'],
  EVENTOPS_DATA_DIR: ['dataDir'],
  LOG_LEVEL: ['log', 'level'],
};
/** `EVENTOPS__SERVER__ANONYMOUS_READ=true` sets `server.anonymousRead`; values are read as YAML. */
const GENERIC_PREFIX = 'EVENTOPS__';

let validate: ReturnType<Ajv['compile']> | undefined;

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const given = options.file ?? (env.EVENTOPS_CONFIG || undefined);
  const file = findFile(given, cwd, given !== undefined);
  let raw: Record<string, unknown> = {};
  let doc: Document | undefined;
  const lines = new LineCounter();
  if (file) {
    doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines, prettyErrors: false });
    const syntax = doc.errors[0];
    if (syntax) {
      const at = lines.linePos(syntax.pos[0]);
      throw new ConfigError(`${file}:${at.line}:${at.col}: ${syntax.message.split('\n')[0]}`);
    }
    // Aliases are counted before any value is built (an alias bomb is an error at its line),
    // within the file's own `limits.yaml.maxAliases` when it sets one as a plain number.
    const own: unknown = doc.getIn(['limits', 'yaml', 'maxAliases']);
    const aliases = checkAliases(doc, typeof own === 'number' && Number.isSafeInteger(own) && own >= 0 ? own : DEFAULT_LIMITS.yaml.maxAliases);
    if (aliases) {
      const at = lines.linePos(aliases.offset);
      throw new ConfigError(`${file}:${at.line}:${at.col}: ${aliases.message}`);
    }
    const value: unknown = doc.toJS({ maxAliasCount: -1 });
    if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
      throw new ConfigError(`${file}: the configuration must be a mapping of keys (server, database, sources, …)`);
    }
    raw = (value as Record<string, unknown> | null) ?? {};
  }

  const fromEnv = new Map<string, string>();
  const override = (path: string[], text: string, name: string, verbatim = false) => {
    setIn(raw, path, verbatim ? text : scalar(text));
    fromEnv.set(path.join('.'), name);
  };
  for (const [name, path] of Object.entries(NAMED_ENV)) {
    const text = env[name];
    // Only the port is a number; URLs and folders are taken as written.
    if (text !== undefined && text !== '') override(path, text, name, name !== 'PORT');
  }
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(GENERIC_PREFIX) || text === undefined) continue;
    const path = name.slice(GENERIC_PREFIX.length).split('__').filter(Boolean).map(camel);
    if (path.length > 0) override(path, text, name);
  }

  validate ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(ConfigSchema);
  if (!validate(raw)) throw new ConfigError(explain(validate.errors ?? [], raw, { file, doc, lines, fromEnv }));
  return normalise(raw as RawConfig, file ? dirname(file) : cwd, file, { file, doc, lines, fromEnv });
}

function findFile(given: string | undefined, cwd: string, explicit: boolean): string | undefined {
  const file = resolve(cwd, given ?? 'eventops.yaml');
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new ConfigError(`${file}: is a folder, not a configuration file`);
    return file;
  }
  if (explicit) throw new ConfigError(`${given}: no such configuration file`);
  return undefined;
}

interface Origins {
  file?: string;
  doc?: Document;
  lines: LineCounter;
  fromEnv: Map<string, string>;
}

/** Where a key was set: `file:line:col` (of its value, or of the key itself) or `environment NAME`. */
function where(path: (string | number)[], origins: Origins, at: 'value' | 'key' = 'value'): string {
  for (let n = path.length; n > 0; n--) {
    const name = origins.fromEnv.get(path.slice(0, n).join('.'));
    if (name) return `environment ${name}`;
  }
  if (!origins.file || !origins.doc) return 'configuration';
  if (at === 'key') {
    const parent = origins.doc.getIn(path.slice(0, -1), true);
    const pair = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === path[path.length - 1]) : undefined;
    const range = isScalar(pair?.key) ? pair.key.range : undefined;
    if (range) {
      const pos = origins.lines.linePos(range[0]);
      return `${origins.file}:${pos.line}:${pos.col}`;
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = origins.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) {
      const at = origins.lines.linePos(node.range[0]);
      return `${origins.file}:${at.line}:${at.col}`;
    }
  }
  return origins.file;
}

function keyName(path: (string | number)[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

function explain(errors: ErrorObject[], raw: unknown, origins: Origins): string {
  const messages = new Set<string>();
  for (const e of errors) {
    const path = e.instancePath
      .split('/')
      .filter(Boolean)
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
    let key = path;
    let at: 'value' | 'key' = 'value';
    let text: string;
    const got = JSON.stringify(valueAt(raw, path));
    const description = (e.parentSchema as { description?: string } | undefined)?.description;
    switch (e.keyword) {
      case 'additionalProperties': {
        key = [...path, String(e.params.additionalProperty)];
        at = 'key';
        const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
        text = `unknown key; allowed here: ${allowed.join(', ')}`;
        break;
      }
      case 'required':
        key = [...path, String(e.params.missingProperty)];
        text = 'is required';
        break;
      case 'pattern':
        text = `must be ${description ?? `text matching ${String(e.params.pattern)}`} (got ${got})`;
        break;
      case 'type':
        text = `must be ${String(e.params.type)} (got ${got})`;
        break;
      case 'anyOf':
        text = `has an unsupported value ${got}`;
        break;
      default:
        text = `${e.message ?? 'is invalid'} (got ${got})`;
    }
    messages.add(`${where(key, origins, at)}: ${keyName(key) || 'configuration'}: ${text}`);
  }
  return [...messages].join('\n');
}

function normalise(raw: RawConfig, base: string, file: string | undefined, origins: Origins): Config {
  const sources = (raw.sources ?? []).map((s, i) => source(s, i, base, origins));
  const seen = new Set<string>();
  sources.forEach((s, i) => {
    if (seen.has(s.name)) throw new ConfigError(`${where(['sources', i, 'name'], origins)}: sources[${i}].name: "${s.name}" is used by another source; names must be unique`);
    seen.add(s.name);
  });
  const dataDir = raw.dataDir ?? '.eventops';
  return {
    ...(file ? { file } : {}),
    server: { port: raw.server?.port ?? 8080, host: raw.server?.host ?? '0.0.0.0', anonymousRead: raw.server?.anonymousRead ?? false, shutdownDelayMs: parseDuration(raw.server?.shutdownDelay ?? '2s') as number, ...(raw.server?.adminToken ? { adminTokenSecret: raw.server.adminToken.secret } : {}), ...(raw.server?.publicUrl ? { publicUrl: raw.server.publicUrl.replace(/\/+$/, '') } : {}) },
    ...(raw.database?.url ? { databaseUrl: raw.database.url } : {}),
    ...(raw.redis?.url ? { redisUrl: raw.redis.url } : {}),
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(base, dataDir),
    logLevel: raw.log?.level ?? 'info',
    ...(raw.secrets?.dir ? { secretsDir: resolve(base, raw.secrets.dir) } : {}),
    sources,
    receivers: (raw.receivers ?? []).map((r, i) => receiver(r, i, origins)),
    githubWebhookSecrets: (raw.github?.webhookSecrets ?? []).map((s) => s.secret),
    ...githubApi(raw.github, origins),
    queuePrefix: raw.redis?.prefix ?? 'eventops',
    runs: { concurrency: raw.runs?.concurrency ?? 8, leaseMs: parseDuration(raw.runs?.lease ?? '30s') as number, shutdownTimeoutMs: parseDuration(raw.runs?.shutdownTimeout ?? '30s') as number },
    queue: { sweepIntervalMs: parseDuration(raw.queue?.sweepInterval ?? '30s') as number, sweepAfterMs: parseDuration(raw.queue?.sweepAfter ?? '1m') as number },
    ...natsConfig(raw.nats, origins),
    limits: limits(raw.limits),
  };
}

function limits(raw: RawConfig['limits']): Limits {
  const d = DEFAULT_LIMITS;
  const ms = (text: string | undefined, fallback: number) => (text === undefined ? fallback : (parseDuration(text) as number));
  const bytes = (size: string | number | undefined, fallback: number) => (size === undefined ? fallback : (parseByteSize(size) as number));
  return {
    git: { fetchTimeoutMs: ms(raw?.git?.fetchTimeout, d.git.fetchTimeoutMs), fetchMemoryBytes: bytes(raw?.git?.fetchMemory, d.git.fetchMemoryBytes) },
    jobs: { maxCrashes: raw?.jobs?.maxCrashes ?? d.jobs.maxCrashes },
    yaml: { maxAliases: raw?.yaml?.maxAliases ?? d.yaml.maxAliases },
    http: {
      maxBodyBytes: bytes(raw?.http?.maxBodySize, d.http.maxBodyBytes),
      bodyBytesInFlight: bytes(raw?.http?.bodiesInFlight, d.http.bodyBytesInFlight),
      maxConnections: raw?.http?.maxConnections ?? d.http.maxConnections,
      bodyTimeoutMs: ms(raw?.http?.bodyTimeout, d.http.bodyTimeoutMs),
      maxDepth: raw?.http?.maxDepth ?? d.http.maxDepth,
    },
    matching: { expressionCost: raw?.matching?.expressionCost ?? d.matching.expressionCost, eventTimeMs: ms(raw?.matching?.eventTime, d.matching.eventTimeMs) },
    logs: {
      taskLogBytes: bytes(raw?.logs?.taskLogSize, d.logs.taskLogBytes),
      pageBytes: bytes(raw?.logs?.pageSize, d.logs.pageBytes),
      maxFollowers: raw?.logs?.maxFollowers ?? d.logs.maxFollowers,
      maxFollowersPerToken: raw?.logs?.maxFollowersPerToken ?? d.logs.maxFollowersPerToken,
    },
    docker: { apiTimeoutMs: ms(raw?.docker?.apiTimeout, d.docker.apiTimeoutMs) },
  };
}

function natsConfig(nats: RawConfig['nats'], origins: Origins): Pick<Config, 'nats'> {
  if (!nats) return {};
  if ((nats.stream === undefined) !== (nats.subjects === undefined)) {
    throw new ConfigError(`${where(['nats'], origins)}: nats: events come in from NATS with both \`stream\` and \`subjects\`; set both, or neither to only publish runs' CloudEvents`);
  }
  return { nats: { url: nats.url ?? 'nats://127.0.0.1:4222', ...(nats.stream ? { stream: nats.stream } : {}), subjects: nats.subjects ?? [], durable: nats.durable ?? 'eventops', runsPrefix: nats.runsPrefix ?? 'eventops.runs' } };
}

function githubApi(github: RawConfig['github'], origins: Origins): Pick<Config, 'github'> {
  if (!github) return {};
  const app = github.appId !== undefined || github.privateKey !== undefined;
  if (app && (github.appId === undefined || github.privateKey === undefined)) throw new ConfigError(`${where(['github'], origins)}: github: a GitHub App needs both \`appId\` and \`privateKey\` (a secret holding its PEM key)`);
  if (app && github.token) throw new ConfigError(`${where(['github', 'token'], origins)}: github: give a GitHub App (\`appId\`, \`privateKey\`) or a \`token\`, not both`);
  if (!app && !github.token) return {};
  const auth = app ? { appId: github.appId as number, privateKeySecret: (github.privateKey as { secret: string }).secret } : { tokenSecret: (github.token as { secret: string }).secret };
  return { github: { auth, ...(github.apiUrl ? { apiUrl: github.apiUrl.replace(/\/+$/, '') } : {}), checks: github.checks ?? true } };
}

function receiver(r: NonNullable<RawConfig['receivers']>[number], i: number, origins: Origins): ReceiverConfig {
  if ((r.auth.bearer === undefined) === (r.auth.hmac === undefined)) {
    throw new ConfigError(`${where(['receivers', i, 'auth'], origins)}: receivers[${i}].auth: give exactly one of \`bearer\` and \`hmac\`: a receiver without authentication would accept anyone's events`);
  }
  if (r.auth.bearer) return { name: r.name, auth: { bearer: r.auth.bearer.secret } };
  const hmac = r.auth.hmac as NonNullable<typeof r.auth.hmac>;
  return { name: r.name, auth: { hmac: { secret: hmac.secret, header: (hmac.header ?? 'X-Hub-Signature-256').toLowerCase(), prefix: hmac.prefix ?? 'sha256=' } } };
}

function source(s: RawSourceConfig, i: number, base: string, origins: Origins): SourceConfig {
  const fail = (key: string, text: string): never => {
    throw new ConfigError(`${where(['sources', i, key], origins)}: sources[${i}].${key}: ${text}`);
  };
  if ((s.url === undefined) === (s.path === undefined)) fail(s.url ? 'path' : 'url', 'give exactly one of `url` (a git repository) and `path` (a local folder)');
  if (s.path !== undefined && s.ref !== undefined) fail('ref', '`ref` applies to git sources only');
  const type = s.url !== undefined ? 'git' : 'local';
  const dir = (s.dir ?? '').replace(/^\.?\/+/, '').replace(/\/+$/, '');
  if (dir.split('/').includes('..')) fail('dir', 'must stay inside the repository (no `..`)');
  const intervalMs = parseDuration(s.interval ?? (type === 'git' ? '1m' : '10m')) as number;
  if (intervalMs < 1000) fail('interval', 'must be at least 1s');
  return {
    name: s.name,
    type,
    ...(s.url !== undefined ? { url: s.url } : {}),
    ...(s.path !== undefined ? { path: resolve(base, s.path) } : {}),
    ...(s.ref !== undefined ? { ref: s.ref } : {}),
    dir,
    intervalMs,
    timeoutMs: parseDuration(s.timeout ?? '60s') as number,
    ignore: s.ignore ?? [],
    ...(s.auth?.token ? { tokenSecret: s.auth.token.secret } : {}),
    secrets: s.secrets ?? [],
  };
}

function camel(segment: string): string {
  if (/^\d+$/.test(segment)) return segment;
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function scalar(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target;
  path.forEach((segment, i) => {
    if (i === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (next === null || typeof next !== 'object') node[segment] = /^\d+$/.test(path[i + 1] as string) ? [] : {};
    node = node[segment] as Record<string, unknown>;
  });
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let node = root;
  for (const p of path) node = node && typeof node === 'object' ? (node as Record<string | number, unknown>)[p] : undefined;
  return node;
}
