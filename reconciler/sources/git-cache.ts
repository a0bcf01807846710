// The git work of a git source, done in the thread that calls it (git-source.ts runs it in a
// worker thread with a time and memory budget): `resolve` asks the server for one ref without
// fetching objects; `snapshot` fetches that commit shallowly into a bare cache repository (only
// what is missing) and lists its YAML files with blob ids, straight from the object database,
// without checking anything out. The remote's HEAD matters only when no `ref` is given.
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as git from 'isomorphic-git';
import type { HttpClient, PromiseFsClient } from 'isomorphic-git';
import picomatch from 'picomatch';
import { SourceError } from '../errors.js';
import { createGitHttp } from './git-http.js';
import { redact, sanitizeUrl } from './sanitize.js';
import type { DefinitionSource, SourceEntry, SourceSnapshot } from './source.js';

export interface GitSourceOptions {
  name: string;
  url: string;
  /** Branch, tag or full commit id; default: what the remote's HEAD points at. */
  ref?: string;
  /** Sub-folder holding the definitions; '' (default) is the root. */
  dir?: string;
  /** picomatch globs, relative to `dir`, of YAML files to leave out. */
  ignore?: string[];
  /** HTTPS token, sent as Basic `x-access-token:<token>` (what GitHub accepts). */
  token?: string;
  /** A folder owned by this source: the cache repository lives (and may be wiped) there. */
  cacheDir: string;
  /** Limit per HTTP request; default 60000. */
  timeoutMs?: number;
  /** Bytes one fetch response (a pack, held whole in memory by isomorphic-git) may have; default: no limit. */
  maxPackBytes?: number;
}

const COMMIT_ID = /^[0-9a-f]{40}$/i;
const YAML_FILE = /\.ya?ml$/;
const SYMLINK_MODE = '120000';
// Where the last fetched commit is recorded: it is sent as a "have", so the server only sends
// objects the cache lacks, and it survives restarts.
const HAVE_REF = 'refs/eventops/fetched';
// git's INFINITE_DEPTH: `deepen` by this much un-shallows the cache (a plain fetch would not).
const FULL_DEPTH = 0x7fffffff;
// Each incremental fetch adds a pack and every object read scans all packs; past this many the
// cache is dropped and fetched afresh (one shallow fetch) rather than repacked in JavaScript.
const MAX_PACKS = 32;
const UTF8 = new TextDecoder('utf-8');

/** Creates the source in this thread; nothing touches the network or the disk until `resolve`/`snapshot`. */
export function openGitCache(options: GitSourceOptions): DefinitionSource {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const remote = splitCredentials(options.url);
  const where = remote.url;
  const secrets = [options.token, remote.password, remote.password ? undefined : remote.username].filter(
    (s): s is string => !!s,
  );
  const basic = options.token ? ['x-access-token', options.token] : remote.username ? [remote.username, remote.password ?? ''] : undefined;
  const authorization = basic && `Basic ${Buffer.from(basic.join(':')).toString('base64')}`;
  if (authorization) secrets.push(authorization.slice('Basic '.length));
  const clean = (text: string) => redact(text, secrets);
  const gitdir = join(options.cacheDir, 'repo.git');
  const dirParts = (options.dir ?? '').split('/').filter((p) => p !== '' && p !== '.');
  const ignored = options.ignore?.length ? picomatch(options.ignore) : () => false;
  const ref = options.ref?.trim() || undefined;

  const fs = createRepoFs();
  let cache: object = {};
  let ready: Promise<void> | undefined;
  let knownRef: string | undefined; // the full ref name `resolve` last found `ref` under
  let lock: Promise<unknown> = Promise.resolve();
  let closed = false;

  const assertUsable = () => {
    if (closed) throw new SourceError('stalling', 'Closed', `the git source '${options.name}' is closed`);
    if (!/^https?:\/\//i.test(where)) {
      throw new SourceError('stalling', 'InvalidUrl', clean(`${where} is not an http(s) URL: only HTTP(S) git remotes are supported`));
    }
  };

  /** Runs one isomorphic-git network call with its own HTTP client and normalises its failure. */
  const remoteCall = async <T>(action: string, signal: AbortSignal | undefined, call: (http: HttpClient) => Promise<T>): Promise<T> => {
    const http = createGitHttp({ timeoutMs, signal, secrets, thinPack: true, maxResponseBytes: options.maxPackBytes });
    let result: T;
    try {
      result = await call(http.client);
    } catch (err) {
      throw http.failure() ?? toSourceError(err, `${action} ${where}`, !!authorization, clean);
    }
    const failure = http.failure();
    if (failure) throw failure;
    return result;
  };
  // A fresh object each call: isomorphic-git adds its own headers to the one it is given.
  const headers = (): Record<string, string> => (authorization ? { Authorization: authorization } : {});

  const ensureRepo = () =>
    (ready ??= (async () => {
      if (await hasUnorderedPacks(gitdir)) await fs.promises.rm(gitdir, { recursive: true, force: true });
      await fs.promises.mkdir(gitdir, { recursive: true });
      await git.init({ fs, gitdir, bare: true, defaultBranch: 'main' });
      // isomorphic-git refuses to fetch into a repository without a fetch refspec.
      await git.setConfig({ fs, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
    })().catch((err: unknown) => {
      ready = undefined;
      throw new SourceError('transient', 'CacheFailed', clean(`cannot prepare the cache repository in ${gitdir}: ${message(err)}`), { cause: err });
    }));

  const hasCommit = async (oid: string): Promise<boolean> => {
    try {
      await git.readCommit({ fs, gitdir, oid, cache });
      return true;
    } catch (err) {
      if (errorCode(err) === 'NotFoundError') return false;
      if (errorCode(err) === 'ObjectTypeError') {
        throw new SourceError('stalling', 'RevisionNotFound', clean(`${oid} in ${where} is not a commit: set ref to a branch, a tag or a commit id`), { cause: err });
      }
      throw new SourceError('transient', 'GitError', clean(`cannot read ${oid} from the cache of ${where}: ${message(err)}`), { cause: err });
    }
  };

  const dropCache = async () => {
    await fs.promises.rm(gitdir, { recursive: true, force: true });
    cache = {};
    ready = undefined;
  };

  const dropCacheIfFragmented = async () => {
    const packs = (await fsp.readdir(join(gitdir, 'objects', 'pack')).catch(() => [])).filter((f) => f.endsWith('.pack'));
    if (packs.length < MAX_PACKS) return;
    await dropCache();
    await ensureRepo();
  };

  const fetchRevision = async (revision: string, signal: AbortSignal | undefined) => {
    await dropCacheIfFragmented();
    // Cheapest first: the ref by name (every server allows it; it may have moved since resolve),
    // then the commit itself (git over HTTP serves any reachable commit, GitHub and GitLab too),
    // then the whole history of every branch for servers that refuse ids in `want`.
    const attempts: { remoteRef: string; depth: number; singleBranch: boolean }[] = [];
    if (!ref || !COMMIT_ID.test(ref)) attempts.push({ remoteRef: knownRef ?? ref ?? 'HEAD', depth: 1, singleBranch: true });
    attempts.push({ remoteRef: revision, depth: 1, singleBranch: true });
    // With `ref` given the remote's HEAD is not asked for: it may name a branch that does not exist.
    attempts.push({ remoteRef: ref && !COMMIT_ID.test(ref) ? (knownRef ?? ref) : 'HEAD', depth: FULL_DEPTH, singleBranch: false });
    let lastError: unknown;
    let completed = false;
    for (const attempt of attempts) {
      try {
        await remoteCall('fetch', signal, (http) =>
          git.fetch({ fs, http, gitdir, cache, url: where, remote: 'origin', ref: HAVE_REF, headers: headers(), tags: false, ...attempt }),
        );
        completed = true;
      } catch (err) {
        // Network, auth and server failures would fail the next attempt too.
        if (!(err instanceof SourceError) || !['RefNotFound', 'GitError'].includes(err.reason)) throw err;
        lastError = err;
        continue;
      }
      if (await hasCommit(revision)) {
        await git.writeRef({ fs, gitdir, ref: HAVE_REF, value: revision, force: true });
        return;
      }
    }
    if (!completed) throw lastError;
    throw new SourceError('stalling', 'RevisionNotFound', clean(`commit ${revision} is not in ${where}: check ref (a force-push may have removed it)`), {
      cause: lastError,
    });
  };

  const listEntries = async (revision: string): Promise<SourceEntry[]> => {
    let treeOid = (await git.readCommit({ fs, gitdir, oid: revision, cache })).commit.tree;
    for (const [i, part] of dirParts.entries()) {
      const { tree } = await git.readTree({ fs, gitdir, oid: treeOid, cache });
      const next = tree.find((e) => e.path === part && e.type === 'tree');
      if (!next) {
        const dir = dirParts.slice(0, i + 1).join('/');
        throw new SourceError('stalling', 'DirNotFound', clean(`folder '${dir}' does not exist in ${where} at ${revision}: check dir`));
      }
      treeOid = next.oid;
    }
    const entries: SourceEntry[] = [];
    const walk = async (oid: string, prefix: string): Promise<void> => {
      const { tree } = await git.readTree({ fs, gitdir, oid, cache });
      for (const entry of tree) {
        // The same rules as the local folder source, so one repository lists alike from both.
        if (entry.path.startsWith('.') || entry.path === 'node_modules') continue;
        const path = prefix + entry.path;
        if (entry.type === 'tree') {
          await walk(entry.oid, `${path}/`);
        } else if (entry.type === 'blob' && entry.mode !== SYMLINK_MODE && YAML_FILE.test(entry.path) && !ignored(path)) {
          entries.push({ path, oid: entry.oid });
        }
      }
    };
    await walk(treeOid, '');
    // Code-unit order, not git's tree order (which sorts `a/` after `a.yaml`).
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  };

  const read = async (entry: SourceEntry): Promise<string> => {
    try {
      const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
      return UTF8.decode(blob);
    } catch (err) {
      throw new SourceError('transient', 'GitError', clean(`cannot read ${entry.path} (${entry.oid}) from the cache of ${where}: ${message(err)}`), { cause: err });
    }
  };

  return {
    async resolve(signal) {
      assertUsable();
      if (ref && COMMIT_ID.test(ref)) return ref.toLowerCase();
      const candidates = !ref ? ['HEAD'] : ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
      // Ask for the kind of ref found last time first: one ls-refs per resolve for tags too.
      if (knownRef) candidates.sort((a, b) => Number(b === knownRef) - Number(a === knownRef));
      return remoteCall('resolve', signal, async (http) => {
        for (const candidate of candidates) {
          const refs = await git.listServerRefs({ http, url: where, headers: headers(), protocolVersion: 2, prefix: candidate, symrefs: true, peelTags: true });
          const found = refs.find((r) => r.ref === candidate);
          if (found) {
            knownRef = candidate;
            return (found.peeled ?? found.oid).toLowerCase();
          }
        }
        if (!ref) {
          throw new SourceError(
            'stalling',
            'RefNotFound',
            clean(`${where} has no HEAD (the repository is empty, or its HEAD names a branch that does not exist): set ref to the branch to follow`),
          );
        }
        const hint = /^[0-9a-f]{4,39}$/i.test(ref) ? ' (a commit needs its full 40-hex id)' : '';
        throw new SourceError('stalling', 'RefNotFound', clean(`ref '${ref}' (branch or tag) not found in ${where}: check ref${hint}`));
      });
    },

    async snapshot(revision, signal): Promise<SourceSnapshot> {
      assertUsable();
      if (!COMMIT_ID.test(revision)) {
        throw new SourceError('stalling', 'RevisionNotFound', clean(`'${revision}' is not a commit id (40 hex digits)`));
      }
      const oid = revision.toLowerCase();
      // One snapshot at a time: concurrent fetches into one repository would race on its refs.
      const run = lock.then(async () => {
        try {
          await ensureRepo();
          if (!(await hasCommit(oid))) await fetchRevision(oid, signal);
          return { revision: oid, entries: await listEntries(oid), read };
        } catch (err) {
          if (err instanceof SourceError) throw err;
          // Not the server's doing: most likely a damaged cache, so the next attempt starts afresh.
          await dropCache().catch(() => undefined);
          throw new SourceError('transient', 'GitError', clean(`snapshot ${oid} of ${where} failed: ${message(err)}`), { cause: err });
        }
      });
      lock = run.catch(() => undefined);
      return run;
    },

    async close() {
      closed = true;
      // Loaded packs live in the cache object; let them go.
      cache = {};
    },
  };
}

const MISSING = Object.assign(new Error('ENOENT: no such file (known from the folder listing)'), { code: 'ENOENT' });

/**
 * The file system isomorphic-git sees for the cache repository. For every object it reads,
 * isomorphic-git probes the fs with a failing readFile (twice), stats the gitdir, tries to open a
 * loose object and lists the pack folder: ~0.2 ms per file, 2 s of 10,000 reads. The cache
 * repository belongs to this source and every write to it goes through here, so folder listings
 * and stats are remembered until the next write, and files missing from a listing fail without a
 * system call.
 */
function createRepoFs(): PromiseFsClient & { promises: { rm: typeof fsp.rm } } {
  let listings = new Map<string, Promise<Set<string> | undefined>>();
  let stats = new Map<string, Promise<Stats>>();
  const forget = () => {
    listings = new Map();
    stats = new Map();
  };
  const listing = (dir: string) => {
    let names = listings.get(dir);
    if (!names) listings.set(dir, (names = fsp.readdir(dir).then((list) => new Set(list), () => undefined)));
    return names;
  };
  const writing =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      forget();
      try {
        return await write(...args);
      } finally {
        forget();
      }
    };
  return {
    promises: {
      async readFile(path?: string, options?: Parameters<typeof fsp.readFile>[1]) {
        // isomorphic-git calls readFile() without arguments to learn whether it returns a promise.
        if (path === undefined) return undefined;
        if (!(await listing(dirname(path)))?.has(basename(path))) throw MISSING;
        return fsp.readFile(path, options);
      },
      async readdir(path: string) {
        const names = await listing(path);
        return names ? [...names] : fsp.readdir(path);
      },
      stat(path: string) {
        let stat = stats.get(path);
        if (!stat) stats.set(path, (stat = fsp.stat(path)));
        return stat;
      },
      lstat: (path: string) => fsp.lstat(path),
      readlink: (path: string) => fsp.readlink(path),
      writeFile: writing((path: string, data: Parameters<typeof fsp.writeFile>[1], options?: Parameters<typeof fsp.writeFile>[2]) =>
        packPath(path).then((named) => fsp.writeFile(named, data, options)),
      ),
      mkdir: writing(fsp.mkdir),
      rmdir: writing(fsp.rmdir),
      unlink: writing(fsp.unlink),
      symlink: writing(fsp.symlink),
      rm: writing(fsp.rm),
    },
  };
}

// isomorphic-git reads an object from the first pack, in name order, whose index holds it. Thin
// packs (git-http.ts) hold deltas against objects of older packs, and a newer pack may hold a
// second copy of an object as a delta against an object of an older pack that is itself a delta
// against the first copy: read from the newer copy, the two point at each other and the read
// loops until the heap is gone (three sibling commits fetched in turn did it). Named in fetch
// order, the oldest copy of an object is read first, and every base it needs lies in its own
// pack (git keeps a pack's deltas acyclic) or in an older one, so every read ends.
const PACK_NAME = /^pack-([0-9a-f]{40})\.(pack|idx)$/;
const ORDERED_PACK_NAME = /^pack-(\d{8})-([0-9a-f]{40})\.(pack|idx)$/;

/** `…/objects/pack/pack-<sha>.pack|idx` → `…/pack-<8-digit fetch number>-<sha>.…`; other paths unchanged. */
async function packPath(path: string): Promise<string> {
  const name = PACK_NAME.exec(basename(path));
  if (!name || basename(dirname(path)) !== 'pack') return path;
  const dir = dirname(path);
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const same = names.map((n) => ORDERED_PACK_NAME.exec(n)).find((m) => m?.[2] === name[1]);
  const number = same ? Number(same[1]) : Math.max(0, ...names.map((n) => Number(ORDERED_PACK_NAME.exec(n)?.[1] ?? 0))) + 1;
  return join(dir, `pack-${String(number).padStart(8, '0')}-${name[1]}.${name[2]}`);
}

/** Packs named by another version of eventops (not in fetch order): such a cache is fetched afresh. */
async function hasUnorderedPacks(gitdir: string): Promise<boolean> {
  const names = await fsp.readdir(join(gitdir, 'objects', 'pack')).catch(() => [] as string[]);
  return names.some((n) => PACK_NAME.test(n));
}

/** `https://user:pass@host/x` → the URL without userinfo, plus the decoded user and password. */
function splitCredentials(url: string): { url: string; username?: string; password?: string } {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]+)@/i.exec(url.trim());
  if (!match?.[2]) return { url: sanitizeUrl(url.trim()) };
  const [user = '', ...rest] = match[2].split(':');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return { url: sanitizeUrl(url.trim()), username: decode(user) || undefined, password: rest.length ? decode(rest.join(':')) : undefined };
}

function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Turns what isomorphic-git throws into a SourceError; `what` names the operation and URL. */
function toSourceError(err: unknown, what: string, hadCredentials: boolean, clean: (text: string) => string): SourceError {
  if (err instanceof SourceError) return err;
  const code = errorCode(err);
  const data = typeof err === 'object' && err !== null ? (err as { data?: { statusCode?: unknown } }).data : undefined;
  const status = typeof data?.statusCode === 'number' ? data.statusCode : undefined;
  const make = (kind: 'stalling' | 'transient', reason: string, text: string) => new SourceError(kind, reason, clean(text), { cause: err });
  if (code === 'HttpError' && status !== undefined) {
    if (status === 401 || status === 403) {
      const hint = hadCredentials ? 'the token is wrong, expired or lacks read access to the repository' : 'the repository needs a token';
      return make('stalling', 'AuthenticationFailed', `${what}: HTTP ${status}: ${hint}`);
    }
    if (status === 404) return make('stalling', 'RepositoryNotFound', `${what}: HTTP 404: check the URL${hadCredentials ? '' : ' (a private repository needs a token)'}`);
    if (status >= 500 || status === 429 || status === 408) return make('transient', 'ServerError', `${what}: HTTP ${status}: the server failed; it will be retried`);
    return make('stalling', 'FetchFailed', `${what}: HTTP ${status}`);
  }
  switch (code) {
    case 'NotFoundError':
      return make('stalling', 'RefNotFound', `${what}: ${message(err)}`);
    case 'SmartHttpError':
      return make('stalling', 'InvalidResponse', `${what}: the server did not answer like a git smart-HTTP server: check the URL`);
    case 'UrlParseError':
    case 'UnknownTransportError':
      return make('stalling', 'InvalidUrl', `${what}: ${message(err)}`);
    default:
      return make('transient', 'GitError', `${what} failed: ${message(err)}`);
  }
}
