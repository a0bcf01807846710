// The data folder holds every event, the database files, the admin token and git caches: only the
// user eventops runs as may read it. `secureFolder` makes the folder (0700) and takes group and
// other permissions off everything already under it: folders made by older versions (0755), and
// the embedded database's files, which its file layer creates 0666 whatever the umask. Files made
// later with looser modes are still out of reach: nobody else can enter a 0700 folder. What
// belongs to another user cannot be changed (a Kubernetes volume's root, owned by root with the
// pod's fsGroup): it is reported, not fatal.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Group and other permission bits. */
const GROUP_OTHER = 0o077;

export interface SecuredFolder {
  /** How many modes were changed. */
  changed: number;
  /** Paths left open because this user does not own them (chmod was refused). */
  notOwned: string[];
}

/**
 * Creates `dir` (and missing parents) mode 0700, then removes the group and other bits of `dir`
 * and of every file and folder under it (symbolic links are not followed). Safe to call on every
 * start; cheap when nothing needs changing (one lstat per entry).
 */
export function secureFolder(dir: string): SecuredFolder {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let changed = 0;
  const notOwned: string[] = [];
  const tighten = (path: string) => {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    // Gone since its folder was listed (a work folder being removed), or a link: nothing to do.
    if (!stat || stat.isSymbolicLink()) return;
    if ((stat.mode & GROUP_OTHER) !== 0) {
      try {
        chmodSync(path, stat.mode & 0o7700 & ~GROUP_OTHER);
        changed++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
        notOwned.push(path);
      }
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) tighten(join(path, name));
  };
  tighten(dir);
  return { changed, notOwned };
}
