// A DefinitionSource for a folder on disk (a checkout someone edits, a mounted volume). Its
// revision is a sha256 over the YAML files' paths and git blob ids, so it changes exactly when
// the definitions do (not when a file is only touched), and a chokidar watch asks for a
// reconcile when files change. Blob ids are cached by file stat so an unchanged folder costs
// one directory walk and one stat per file. A symlinked file is followed only when it resolves
// inside the folder; one that leads out of it is listed with a reason and never read, so a link
// to /etc/shadow cannot put a line of it into a diagnostic that any read token sees.
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { watch as watchFolder } from 'chokidar';
import picomatch from 'picomatch';
import { SourceError } from '../errors.js';
import { gitBlobId } from './blob-id.js';
import type { DefinitionSource, SourceEntry, SourceSnapshot } from './source.js';

export interface LocalSourceOptions {
  /** The source's name, used in error messages. */
  name: string;
  /** Absolute path of the folder. */
  path: string;
  /** Sub-folder holding the definitions, relative to `path`; '' (the default) is `path` itself. */
  dir?: string;
  /** picomatch globs, relative to `dir`, of YAML files to leave out. */
  ignore?: string[];
  /** How long the watch waits after the last change before calling back; default 300 ms. */
  debounceMs?: number;
}

interface CachedBlob {
  size: number;
  mtimeMs: number;
  ino: number;
  oid: string;
  /** False while the file's mtime is too recent to prove a later same-size write would move it. */
  trusted: boolean;
}

interface Listing {
  revision: string;
  entries: SourceEntry[];
  /** The folder's real path (symlinks resolved) when it was listed: reads must stay inside it. */
  realRoot: string;
}

// Stats and reads are synchronous, in batches: for thousands of small files that is ~5x faster
// than fs.promises (one thread-pool hop per call), and the event loop still turns between batches.
const STAT_BATCH = 500;
const READ_BATCH_FILES = 200;
const READ_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * A file modified this close to when it was hashed may change again within the same mtime tick
 * (1-2 s on some file systems), so its cached id is re-checked on the next resolve, as git does
 * with racily clean index entries.
 */
const RACY_WINDOW_MS = 2_000;
/** A folder that never stops changing still gets a reconcile this many debounce periods after the first change. */
const MAX_WAIT_DEBOUNCES = 10;

/**
 * Creates a source for the YAML files under `path/dir`, skipping names that start with `.`,
 * `node_modules` folders and `ignore` globs. Symlinked files are followed when they resolve inside
 * the folder; one that leads outside is an entry with `refused` set (its diagnostic), never read.
 * Symlinked folders are not followed.
 */
export function createLocalSource(options: LocalSourceOptions): DefinitionSource {
  const { name } = options;
  const dir = options.dir ?? '';
  const root = join(options.path, dir);
  const debounceMs = options.debounceMs ?? 300;
  const isIgnored = options.ignore?.length ? picomatch(options.ignore) : () => false;
  const configProblem = !isAbsolute(options.path)
    ? `path ${JSON.stringify(options.path)} is not absolute`
    : escapes(relative(options.path, root))
      ? `dir ${JSON.stringify(dir)} points outside ${options.path}`
      : undefined;

  /** What the last scan saw; the blobs are the cache for the next one. */
  let state: { blobs: Map<string, CachedBlob>; refused: Map<string, SourceEntry>; listing: Listing } | undefined;
  const stops = new Set<() => Promise<void>>();
  let closed = false;

  const where = (): string => `local source ${JSON.stringify(name)}`;

  function checkAborted(signal: AbortSignal | undefined): void {
    if (signal?.aborted) {
      throw new SourceError('transient', 'Aborted', `${where()}: reading ${root} was cancelled`, { cause: signal.reason });
    }
  }

  function toSourceError(err: unknown): SourceError {
    if (err instanceof SourceError) return err;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const at = (err as NodeJS.ErrnoException | undefined)?.path ?? root;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new SourceError('stalling', 'PathNotFound', `${where()}: folder ${root} does not exist or is not a folder; create it or fix the source's path${dir ? ' and dir' : ''}`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new SourceError('stalling', 'PermissionDenied', `${where()}: no permission to read ${at}; give the eventops user read access`, { cause: err });
    }
    return new SourceError('transient', 'ReadFailed', `${where()}: could not read ${at}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  /**
   * The candidate YAML files, as paths relative to `root` (with `/`) and absolute. Folders that
   * vanish mid-walk are skipped. Folders are read in parallel: the stats that follow are the cost.
   */
  async function listFiles(): Promise<{ rel: string[]; abs: string[]; links: Set<string> }> {
    const rel: string[] = [];
    const abs: string[] = [];
    const links = new Set<string>();
    async function visit(folder: string, prefix: string): Promise<void> {
      let dirents: Dirent[];
      try {
        dirents = await readdir(folder, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (prefix !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) return;
        throw err;
      }
      const folderPrefix = folder.endsWith(sep) ? folder : folder + sep;
      const subfolders: Promise<void>[] = [];
      for (const d of dirents) {
        if (d.name.startsWith('.') || d.name === 'node_modules') continue;
        const path = prefix + d.name;
        if (d.isDirectory()) {
          subfolders.push(visit(folderPrefix + d.name, `${path}/`));
        } else if ((d.isFile() || d.isSymbolicLink()) && isYaml(d.name) && !isIgnored(path)) {
          rel.push(path);
          abs.push(folderPrefix + d.name);
          if (d.isSymbolicLink()) links.add(path);
        }
      }
      await Promise.all(subfolders);
    }
    await visit(root, '');
    return { rel, abs, links };
  }

  /**
   * Where a symlinked file really is: its real path when that is inside `realRoot`, `outside`
   * when it leads out of the folder (the target is not opened), undefined when dangling or looping.
   */
  function resolveLink(abs: string, realRoot: string): string | 'outside' | undefined {
    let real: string;
    try {
      real = realpathSync(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw err;
    }
    return escapes(relative(realRoot, real)) ? 'outside' : real;
  }

  /** A link leading out of the folder: its id is git's for a symlink (a blob of the link's text), so retargeting it is a new revision. */
  function refusedEntry(rel: string, abs: string): SourceEntry | undefined {
    let target: string;
    try {
      target = readlinkSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return {
      path: rel,
      oid: gitBlobId(Buffer.from(target)),
      refused: `${rel}: is a symbolic link to a path outside the source folder; not read. Put the file itself in the folder, or point the link inside it`,
    };
  }

  /** The file's stats, or undefined when it is gone or not a regular file (a dangling or looping link). */
  function statFile(abs: string): Stats | undefined {
    try {
      const st = statSync(abs, { throwIfNoEntry: false });
      return st?.isFile() ? st : undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw err;
    }
  }

  /** The file's blob, or undefined when it was deleted since it was listed (then it is not part of this revision). */
  function hashFile(abs: string, st: Stats): CachedBlob | undefined {
    const hashedAt = Date.now();
    let bytes: Buffer;
    try {
      bytes = readFileSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const trusted = st.mtimeMs < hashedAt - RACY_WINDOW_MS;
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, oid: gitBlobId(bytes), trusted };
  }

  async function scan(signal: AbortSignal | undefined): Promise<Listing> {
    if (closed) throw new SourceError('stalling', 'Closed', `${where()} is closed`);
    if (configProblem) {
      throw new SourceError('stalling', 'InvalidPath', `${where()}: ${configProblem}; fix the source's configuration`);
    }
    checkAborted(signal);
    try {
      const files = await listFiles();
      const realRoot = realpathSync(root);
      const before = state;
      const blobs = new Map<string, CachedBlob>();
      const refused = new Map<string, SourceEntry>();
      const stale: [string, string, Stats][] = [];
      for (let i = 0; i < files.rel.length; i += STAT_BATCH) {
        if (i > 0) await nextTurn();
        checkAborted(signal);
        for (let j = i; j < Math.min(i + STAT_BATCH, files.rel.length); j++) {
          const rel = files.rel[j] as string;
          let abs = files.abs[j] as string;
          if (files.links.has(rel)) {
            const real = resolveLink(abs, realRoot);
            if (real === undefined) continue;
            if (real === 'outside') {
              const entry = refusedEntry(rel, abs);
              if (entry) refused.set(rel, entry);
              continue;
            }
            abs = real;
          }
          const st = statFile(abs);
          if (!st) continue;
          const known = before?.blobs.get(rel);
          if (known?.trusted && known.size === st.size && known.mtimeMs === st.mtimeMs && known.ino === st.ino) {
            blobs.set(rel, known);
          } else {
            stale.push([rel, abs, st]);
          }
        }
      }
      // Same files with the same stats as last time: the last listing still holds.
      if (before && stale.length === 0 && blobs.size === before.blobs.size && sameRefused(refused, before.refused) && realRoot === before.listing.realRoot) return before.listing;

      let batchFiles = 0;
      let batchBytes = 0;
      for (const [rel, abs, st] of stale) {
        if (batchFiles >= READ_BATCH_FILES || batchBytes >= READ_BATCH_BYTES) {
          await nextTurn();
          checkAborted(signal);
          batchFiles = 0;
          batchBytes = 0;
        }
        const blob = hashFile(abs, st);
        if (blob) blobs.set(rel, blob);
        batchFiles += 1;
        batchBytes += st.size;
      }

      const entries: SourceEntry[] = [...[...blobs].map(([path, blob]) => ({ path, oid: blob.oid })), ...refused.values()];
      entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const hash = createHash('sha256');
      for (const e of entries) hash.update(`${e.path}\0${e.oid}\n`);
      const listing = { revision: `sha256:${hash.digest('hex')}`, entries, realRoot };
      if (!closed) state = { blobs, refused, listing };
      return listing;
    } catch (err) {
      throw toSourceError(err);
    }
  }

  async function read(entry: SourceEntry): Promise<string> {
    const abs = join(root, entry.path);
    if (isAbsolute(entry.path) || escapes(relative(root, abs))) {
      throw new SourceError('stalling', 'InvalidPath', `${where()}: ${JSON.stringify(entry.path)} is not a path inside ${root}`);
    }
    if (entry.refused !== undefined) throw new SourceError('stalling', 'InvalidPath', `${where()}: ${entry.refused}`);
    let bytes: Buffer;
    try {
      // The file may have become a link out of the folder since it was listed: the target is
      // not opened then, and the next listing reports the link.
      const real = await realpath(abs);
      if (escapes(relative(await realpath(root), real))) throw changed(entry);
      bytes = await readFile(real);
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? changed(entry, err) : toSourceError(err);
    }
    if (gitBlobId(bytes) !== entry.oid) throw changed(entry);
    return bytes.toString('utf8');
  }

  function changed(entry: SourceEntry, cause?: unknown): SourceError {
    return new SourceError('transient', 'Changed', `${where()}: ${join(root, entry.path)} changed after the folder was listed; the reconcile will retry`, { cause });
  }

  return {
    async resolve(signal) {
      return (await scan(signal)).revision;
    },

    async snapshot(revision, signal): Promise<SourceSnapshot> {
      // The caller stores the snapshot's revision, so a folder that moved on since `resolve`
      // is listed again and reported as what it is now.
      const listing = state?.listing.revision === revision ? state.listing : await scan(signal);
      return { revision: listing.revision, entries: listing.entries.map((e) => ({ ...e })), read };
    },

    watch(onChange) {
      if (configProblem || closed) return async () => undefined; // resolve reports why.
      let timer: NodeJS.Timeout | undefined;
      let firstAt = 0;
      let stopped = false;
      const fire = (): void => {
        timer = undefined;
        if (!stopped) onChange();
      };
      const schedule = (): void => {
        if (stopped) return;
        const now = Date.now();
        if (timer === undefined) firstAt = now;
        else clearTimeout(timer);
        timer = setTimeout(fire, Math.max(0, Math.min(debounceMs, firstAt + debounceMs * MAX_WAIT_DEBOUNCES - now)));
      };
      const watcher = watchFolder(root, {
        ignoreInitial: true,
        // A link is watched as a link: one to `/` must not make the watch walk the whole disk,
        // and a link inside the folder points at a file that is watched itself.
        followSymlinks: false,
        ignored: (p) => isHiddenOrModules(relative(root, p)),
        awaitWriteFinish: false,
      });
      watcher.on('all', (event, p) => {
        const rel = relative(root, p).split(/[\\/]/).join('/');
        const isFolderEvent = event === 'addDir' || event === 'unlinkDir';
        if (isFolderEvent || (isYaml(rel) && !isIgnored(rel))) schedule();
      });
      // A failing watch (the folder deleted, inotify limits) becomes a reconcile, which reports it.
      watcher.on('error', schedule);
      const stop = async (): Promise<void> => {
        if (stopped) return;
        stopped = true;
        clearTimeout(timer);
        stops.delete(stop);
        await watcher.close();
      };
      stops.add(stop);
      return stop;
    },

    async close() {
      closed = true;
      await Promise.all([...stops].map((stop) => stop()));
      state = undefined;
    },
  };
}

function isYaml(fileName: string): boolean {
  return fileName.endsWith('.yaml') || fileName.endsWith('.yml');
}

function sameRefused(a: ReadonlyMap<string, SourceEntry>, b: ReadonlyMap<string, SourceEntry>): boolean {
  if (a.size !== b.size) return false;
  for (const [rel, entry] of a) if (b.get(rel)?.oid !== entry.oid) return false;
  return true;
}

/** True for a path (relative to the watched folder) inside or naming a hidden entry or node_modules. */
function isHiddenOrModules(rel: string): boolean {
  if (rel === '' || escapes(rel)) return false;
  return rel.split(/[\\/]/).some((part) => part.startsWith('.') || part === 'node_modules');
}

/** True when a path made by `path.relative` leads out of the folder it is relative to. */
function escapes(rel: string): boolean {
  return rel === '..' || rel.startsWith('../') || rel.startsWith('..\\') || isAbsolute(rel);
}
