// Where one attempt lives on disk. The work folder `<workRoot>/<runId>/<task>-<attempt>` is the
// task's: it starts empty and is all it sees as `$EVENTOPS_WORKSPACE`. Next to it (not inside,
// so the task cannot trip over it or `rm -rf` it by accident) a private folder
// `<task>-<attempt>.eventops` holds the script, the outputs file, captured variables and TMPDIR.
// A work folder name always ends in `-<digits>` and a private one in `.eventops`: they never clash.
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';

export interface AttemptFolders {
  run: string;
  work: string;
  private: string;
  script: string;
  /** `$EVENTOPS_OUTPUT`. */
  outputFile: string;
  /** Where the script's trailer saves `fromEnv` variables, one file per name. */
  captureDir: string;
  tmp: string;
}

/** The folders of one attempt; throws when runId or task could not be a single folder name. */
export function attemptFolders(workRoot: string, runId: string, task: string, attempt: number): AttemptFolders {
  for (const [what, value] of [['run id', runId], ['task name', task]] as const) {
    if (value === '' || value === '.' || value === '..' || /[/\\\0]/.test(value)) throw new Error(`${what} "${value}" cannot name a folder`);
  }
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new Error(`attempt ${attempt} is not a positive integer`);
  const run = join(resolve(workRoot), runId);
  const own = join(run, `${task}-${attempt}.eventops`);
  return {
    run,
    work: join(run, `${task}-${attempt}`),
    private: own,
    script: join(own, 'script.sh'),
    outputFile: join(own, 'output'),
    captureDir: join(own, 'env'),
    tmp: join(own, 'tmp'),
  };
}

/** `relativePath` resolved inside `root`, or undefined when it is absolute or climbs out with `..`. */
export function insideFolder(root: string, relativePath: string): string | undefined {
  if (isAbsolute(relativePath)) return undefined;
  const full = resolve(root, relativePath);
  return isWithin(root, full) ? full : undefined;
}

/** Whether the absolute `path` is `root` or lies under it (by name: symbolic links are not followed). */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return !(rel === '..' || rel.startsWith('../') || isAbsolute(rel));
}

/** Creates the folders afresh (a leftover of a crashed server is removed first), private ones mode 0700. */
export async function createAttemptFolders(folders: AttemptFolders): Promise<void> {
  await rm(folders.work, { recursive: true, force: true });
  await rm(folders.private, { recursive: true, force: true });
  for (const [path, mode] of [
    [folders.work, 0o755],
    [folders.private, 0o700],
    [folders.captureDir, 0o700],
    [folders.tmp, 0o700],
  ] as const) {
    await mkdirRetrying(path, mode);
  }
}

/** Removes both folders, and the run's folder once no other attempt uses it. */
export async function removeAttemptFolders(folders: AttemptFolders): Promise<void> {
  await rm(folders.work, { recursive: true, force: true, maxRetries: 2 });
  await rm(folders.private, { recursive: true, force: true, maxRetries: 2 });
  try {
    await rmdir(folders.run);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw error;
  }
}

/**
 * `mkdir -p`, tried again when another attempt of the same run removed the run's folder between
 * creating a parent and creating the child (removeAttemptFolders does that when it looks empty).
 */
async function mkdirRetrying(path: string, mode: number): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await mkdir(path, { recursive: true, mode });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || tries >= 5) throw error;
    }
  }
}
