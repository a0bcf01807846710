// The lock that makes a data folder's embedded database belong to one process: a file holding the
// owner's pid. Taking a lock left by a process that is gone must be atomic, or two processes that
// find the same stale lock both "take it over" (each reads it, removes it and creates its own,
// the second removing the first's). The scheme, with only atomic filesystem operations:
//   - A new lock is written to a private temp file first and `link`ed to the lock name: `link`
//     fails when the name exists, and the lock never appears empty (no half-written pid to misread).
//   - A stale lock (its pid is gone) is claimed by its inode: `link(lock, lock.stale-<inode>)`.
//     Only one process can create that name; the winner checks that it linked the very file it
//     found stale (same inode, same dead pid), then `rename`s its temp file over the lock, which
//     replaces the stale file in one step. Nobody else can replace inode <inode> meanwhile: they
//     all fail to create the claim. A claim whose maker died is removed once it is 10 s old, and
//     whoever claims after that checks the inode again, so a late claimer can only lose.
// No OS-level lock is used: Node has no flock, and the files must also work for PostgreSQL's tools.
import { linkSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface FolderLockOptions {
  /** What the lock guards, for the in-use error (e.g. "the embedded database in /data/pglite"). */
  what: string;
  /** What to do about a lock in use, appended to its error. */
  hint: string;
  /** How long to wait for a takeover in progress elsewhere, or for a half-written lock of an older eventops. Default 15 s. */
  waitMs?: number;
}

/** A claim older than this was left by a process that died while taking a lock over. */
const DEAD_CLAIM_MS = 10_000;

/** Locks held by this process (a pid of ours in a lock we did not take is a leftover: pid 1 in a container). */
const lockedHere = new Set<string>();

export class FolderInUseError extends Error {
  constructor(
    message: string,
    readonly owner: number,
  ) {
    super(message);
    this.name = 'FolderInUseError';
  }
}

/**
 * Takes the lock file `lock` for this process, taking over one whose owner is gone. Throws a
 * `FolderInUseError` when a live process holds it. Returns the release function, which removes the
 * lock only while it is still this process's file.
 */
export async function lockFolder(lock: string, options: FolderLockOptions): Promise<() => void> {
  const deadline = Date.now() + (options.waitMs ?? 15_000);
  const tmp = `${lock}.${process.pid}.${randomBytes(6).toString('hex')}.new`;
  writeFileSync(tmp, String(process.pid), { flag: 'wx', mode: 0o600 });
  try {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`cannot take the lock ${lock} of ${options.what}: another process kept taking it over for ${options.waitMs ?? 15_000} ms; try again`);
      try {
        linkSync(tmp, lock);
        return held(lock, statSync(lock).ino);
      } catch (error) {
        if (code(error) !== 'EEXIST') throw error;
      }
      const seen = readLock(lock);
      if (!seen) continue;
      if (seen.owner === undefined) {
        // Empty: an older eventops between creating and writing it. Garbage that stays is stale.
        if (Date.now() - seen.changedMs < 2_000) {
          await sleep(20);
          continue;
        }
      } else if (inUse(lock, seen.owner)) {
        throw new FolderInUseError(`${options.what} is in use by process ${seen.owner} (lock file ${lock}): ${options.hint}`, seen.owner);
      }
      const claim = `${lock}.stale-${seen.ino}`;
      try {
        linkSync(lock, claim);
      } catch (error) {
        if (code(error) === 'ENOENT') continue;
        if (code(error) !== 'EEXIST') throw error;
        // Another process is taking this stale lock over: its new lock will be there in a moment.
        removeDeadClaim(claim);
        await sleep(10);
        continue;
      }
      const claimed = readLock(claim);
      if (!claimed || claimed.ino !== seen.ino || claimed.owner !== seen.owner || (claimed.owner !== undefined && inUse(lock, claimed.owner))) {
        // We linked a newer lock, not the stale file: someone took over first.
        rmSync(claim, { force: true });
        continue;
      }
      renameSync(tmp, lock);
      rmSync(claim, { force: true });
      return held(lock, statSync(lock).ino);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

function held(lock: string, ino: number): () => void {
  lockedHere.add(lock);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    lockedHere.delete(lock);
    try {
      if (statSync(lock).ino === ino) unlinkSync(lock);
    } catch (error) {
      if (code(error) !== 'ENOENT') throw error;
    }
  };
}

/** The lock's inode and owner (undefined when it holds no pid), or undefined when it is gone. */
function readLock(path: string): { ino: number; owner: number | undefined; changedMs: number } | undefined {
  try {
    const stat = statSync(path);
    const text = readFileSync(path, 'utf8').trim();
    const owner = /^\d+$/.test(text) ? Number(text) : undefined;
    return { ino: stat.ino, owner: owner !== undefined && owner > 0 ? owner : undefined, changedMs: stat.ctimeMs };
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function inUse(lock: string, owner: number): boolean {
  return owner === process.pid ? lockedHere.has(lock) : alive(owner);
}

function removeDeadClaim(claim: string): void {
  try {
    // `link` sets the inode's change time: a claim this old belongs to a process that died mid-takeover.
    if (Date.now() - statSync(claim).ctimeMs > DEAD_CLAIM_MS) rmSync(claim, { force: true });
  } catch (error) {
    if (code(error) !== 'ENOENT') throw error;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return code(error) === 'EPERM';
  }
}

const code = (error: unknown) => (error as NodeJS.ErrnoException).code;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
