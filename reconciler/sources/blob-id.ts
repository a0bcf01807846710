// Git blob ids for file contents, so a local folder names its files exactly as a git repository
// holding the same bytes would, and a blob parsed once from either source is never parsed again.
import { createHash } from 'node:crypto';

/** The git blob id (40 hex) of `bytes`: sha1 of `blob <byteLength>\0` followed by the bytes. */
export function gitBlobId(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}
