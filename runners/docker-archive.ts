// Files copied out of a container, which may have stopped: Docker hands a path out as a tar
// archive (`GET /containers/{id}/archive`), whose first entry is the path itself. Used for the
// wrapper's results, for `$EVENTOPS_OUTPUT` of a task that runs its image as built, and for the
// image's /etc/passwd and /etc/group. Nothing larger than the limit asked for is read into memory.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import { statusOf } from './docker-connection.js';
import type { RawValue } from './read-outputs.js';

/**
 * The file at `path` in the container: its bytes, or `missing` (no such path), `not-a-file` (a
 * folder, a link…) or `too-big` (over `maxBytes`). Rejects when the daemon fails otherwise, or
 * when `signal` aborts (the caller's deadline), also while the archive is being read.
 */
export async function readContainerFile(container: Docker.Container, path: string, maxBytes: number, signal?: AbortSignal): Promise<RawValue> {
  let archive: NodeJS.ReadableStream & Readable;
  try {
    archive = (await container.getArchive({ path, ...(signal ? { abortSignal: signal } : {}) })) as NodeJS.ReadableStream & Readable;
  } catch (error) {
    if (statusOf(error) === 404) return { kind: 'missing' };
    throw error;
  }
  const unpack = extract();
  archive.on('error', (error) => unpack.destroy(error));
  archive.pipe(unpack);
  try {
    // Only the first entry counts: the path itself (a folder's content that follows is not read).
    for await (const entry of unpack) {
      if (entry.header.type !== 'file') return { kind: 'not-a-file' };
      if ((entry.header.size ?? 0) > maxBytes) return { kind: 'too-big' };
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      return { kind: 'read', bytes: Buffer.concat(chunks) };
    }
    return { kind: 'missing' };
  } finally {
    archive.destroy();
  }
}
